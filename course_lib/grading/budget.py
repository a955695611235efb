"""One memory and process budget for all the processes of a submission.

Rlimits hold per process: eight children of 2 GB each stay under a 3 GB RLIMIT_AS and use
16 GB together. A `Budget` holds for the whole sandbox, in one of two ways:

- **cgroup v2** (``cgroup``): each worker gets a cgroup of its own with ``memory.max`` (the
  memory limit; swap 0; ``memory.oom.group``, so an out-of-memory kill takes every process),
  ``pids.max`` (the process limit) and, where the controller is there, ``cpu.max`` (the
  worker's threads). The kernel counts everything: anonymous memory, page cache, tmpfs and
  System V shared memory, memory-mapped and ``memfd`` files. The grader looks for a
  cgroup it may use: ``$COURSE_GRADER_CGROUP`` (a folder of the cgroup2 file system that
  the grading user may write, with the memory and pids controllers available), else its
  own cgroup when the controllers can be enabled for children there. When the grading
  process is alone in its cgroup (``systemd-run --scope -p Delegate=yes course grade ...``)
  it moves itself into a child ``course-grader`` first, as the kernel requires of a cgroup
  that delegates controllers. Anything else (cgroup v1, controllers not delegated, other
  processes beside the grader) means the fallback.
- **monitor** (the fallback): the grading process sums the proportional resident memory
  (PSS) of the sandbox's processes -- those of its uid, which no other process has, or
  without root those of its session -- and the files they hold open without a name
  (``memfd``, deleted files), four times a second, and kills them all when the sum passes
  the limit. The processes are capped by RLIMIT_NPROC of that uid. What the monitor does
  not see: named files on a tmpfs (in the namespace sandbox its root, 64 MB; in the fallback
  the working folder, on the grading machine's temporary folder), System V IPC (capped in
  the namespace sandbox's own IPC namespace), a process that leaves the session (fallback
  without root), and an allocation faster than a quarter of a second, which RLIMIT_AS caps
  per process.

    budget = Budget(memory_bytes, max_processes, threads, uid=123456)   # before the worker starts
    Popen(..., preexec_fn=lambda: budget.enter())  # in the child, before exec
    budget.check(pid)                             # periodically: None, or why to stop
    budget.close()                                # kills what is left, removes the cgroup
"""

from __future__ import annotations

import errno
import functools
import os
import secrets
import signal
import time

CGROUP_ENV = "COURSE_GRADER_CGROUP"
POLL_SECONDS = 0.25


def _read(path, default: str = "") -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def _write(path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _cgroup2_mount() -> str | None:
    for line in _read("/proc/self/mountinfo").splitlines():
        left, _, right = line.partition(" - ")
        if right.split(" ")[:1] == ["cgroup2"]:
            fields = left.split(" ")
            if len(fields) > 4 and fields[3] == "/":
                return fields[4]
    return None


def _own_cgroup() -> str | None:
    mount = _cgroup2_mount()
    for line in _read("/proc/self/cgroup").splitlines():
        if line.startswith("0::") and mount:
            return os.path.join(mount, line[3:].lstrip("/")).rstrip("/") or mount
    return None


def _enable(folder: str, controllers: list[str]) -> None:
    wanted = [c for c in controllers if c not in _read(os.path.join(folder, "cgroup.subtree_control")).split()]
    if wanted:
        _write(os.path.join(folder, "cgroup.subtree_control"), " ".join(f"+{c}" for c in wanted))


@functools.lru_cache(maxsize=1)
def cgroup_parent() -> tuple[str | None, str]:
    """(folder under which worker cgroups are made, or None; why not, when None). Decided once per process."""
    folder = os.environ.get(CGROUP_ENV) or _own_cgroup()
    if not folder:
        return None, "no cgroup v2 hierarchy (cgroup v1 or none)"
    available = _read(os.path.join(folder, "cgroup.controllers")).split()
    if not {"memory", "pids"} <= set(available):
        return None, f"the memory and pids controllers are not available in {folder}"
    wanted = ["memory", "pids"]
    try:
        _enable(folder, wanted)
    except OSError as exc:
        if exc.errno != errno.EBUSY:
            return None, f"cannot enable controllers in {folder}: {exc.strerror}"
        others = [p for p in _read(os.path.join(folder, "cgroup.procs")).split() if p != str(os.getpid())]
        if others:
            return None, (f"{folder} holds other processes, so its controllers cannot be delegated "
                          f"(set {CGROUP_ENV} to a delegated cgroup)")
        try:  # alone in the cgroup: move into a leaf, then delegate (the kernel's "no internal processes" rule)
            leaf = os.path.join(folder, "course-grader")
            os.makedirs(leaf, exist_ok=True)
            _write(os.path.join(leaf, "cgroup.procs"), str(os.getpid()))
            _enable(folder, wanted)
        except OSError as exc2:
            return None, f"cannot delegate controllers in {folder}: {exc2.strerror}"
    except Exception as exc:  # noqa: BLE001 - any surprise means: no cgroup
        return None, f"cannot use {folder}: {exc}"
    if "cpu" in available:  # cpu.max as well where the cpu controller can be had (not with realtime tasks)
        try:
            _enable(folder, ["cpu"])
        except OSError:
            pass
    probe = os.path.join(folder, f"course-probe-{os.getpid()}-{secrets.token_hex(3)}")
    try:
        os.mkdir(probe)
        _write(os.path.join(probe, "memory.max"), "max")
        os.rmdir(probe)
    except OSError as exc:
        return None, f"cannot make cgroups in {folder}: {exc.strerror}"
    return folder, ""


def _status_uid(pid: str) -> int | None:
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    return None


def _session(pid: str) -> int | None:
    stat = _read(f"/proc/{pid}/stat")
    try:
        return int(stat[stat.rindex(")") + 2:].split()[3])
    except (ValueError, IndexError):
        return None


def processes(uid: int | None = None, session: int | None = None) -> list[int]:
    """Pids of the processes whose real uid is `uid` (or whose session is `session`)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        if uid is not None and _status_uid(name) == uid:
            found.append(int(name))
        elif uid is None and session is not None and _session(name) == session:
            found.append(int(name))
    return found


def _pss(pid: int) -> int:
    """Proportional resident memory of `pid` in bytes (RSS where smaps_rollup cannot be read)."""
    for line in _read(f"/proc/{pid}/smaps_rollup").splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    statm = _read(f"/proc/{pid}/statm").split()
    return int(statm[1]) * os.sysconf("SC_PAGE_SIZE") if len(statm) > 1 else 0


def _file_memory(pid: int) -> int:
    """Bytes held by `pid` in open files without a name (memfd, deleted tmpfs files), which PSS does not count."""
    total = 0
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return 0
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("/memfd:") or target.endswith(" (deleted)"):
                total += os.stat(f"/proc/{pid}/fd/{fd}").st_blocks * 512
        except OSError:
            pass
    return total


def kill_all(uid: int | None = None, session: int | None = None, rounds: int = 5) -> None:
    """SIGKILL every process of `uid` (or of `session`), a few rounds over (a fork in flight)."""
    for _ in range(rounds):
        pids = processes(uid, session)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.02)


class Budget:
    """The memory and process budget of one worker: a cgroup, or the monitor (see the module)."""

    def __init__(self, memory_bytes: int, max_processes: int, threads: int = 1, uid: int | None = None):
        self.memory_bytes, self.processes, self.uid = memory_bytes, max_processes, uid
        self.session: int | None = None
        self.cgroup: str | None = None
        self.over: str | None = None
        self.peak = 0
        self._next = 0.0
        parent, self.why_not = cgroup_parent()
        if parent:
            folder = os.path.join(parent, f"course-sandbox-{os.getpid()}-{secrets.token_hex(4)}")
            try:
                os.mkdir(folder)
                _write(os.path.join(folder, "memory.max"), str(memory_bytes))
                for name, value in (("memory.swap.max", "0"), ("memory.oom.group", "1"),
                                    ("cpu.max", f"{threads * 100000} 100000")):
                    if os.path.exists(os.path.join(folder, name)):
                        _write(os.path.join(folder, name), value)
                _write(os.path.join(folder, "pids.max"), str(max_processes + 4))  # + unshare and the set-up shell
                self.cgroup = folder
            except OSError as exc:
                self.why_not = f"cannot make a cgroup in {parent}: {exc.strerror}"
                self._remove(folder)

    @property
    def kind(self) -> str:
        return "cgroup" if self.cgroup else "monitor"

    def describe(self) -> str:
        gib = self.memory_bytes / 2**30
        if self.cgroup:
            return f"cgroup v2: {gib:g} GiB and {self.processes} processes for the whole submission"
        return (f"monitor: {gib:g} GiB for the whole submission, summed over its processes by the grader "
                f"4 times a second ({self.why_not})")

    def enter(self) -> None:
        """In the child, before exec: join the cgroup (every later process of the sandbox follows)."""
        if self.cgroup:
            _write(os.path.join(self.cgroup, "cgroup.procs"), "0")

    def started(self, pid: int) -> None:
        """The worker's process started as `pid` (its session, when no uid tells the sandbox's processes)."""
        self.session = pid

    def _members(self) -> list[int]:
        if self.cgroup:
            return [int(p) for p in _read(os.path.join(self.cgroup, "cgroup.procs")).split()]
        return processes(self.uid, None if self.uid is not None else self.session)

    def check(self) -> str | None:
        """None while within the budget; else why the sandbox must stop. Polls at most 4 times a second."""
        now = time.monotonic()
        if self.over or now < self._next:
            return self.over
        self._next = now + POLL_SECONDS
        if self.cgroup:
            return self.verdict()
        used = sum(_pss(pid) + _file_memory(pid) for pid in self._members())
        self.peak = max(self.peak, used)
        if used > self.memory_bytes:
            self.over = self._message(used)
        return self.over

    def verdict(self) -> str | None:
        """Whether the budget was exceeded (a cgroup's out-of-memory kill included), now."""
        if self.cgroup and not self.over:
            events = _read(os.path.join(self.cgroup, "memory.events")).split()
            counts = dict(zip(events[::2], events[1::2]))
            if counts.get("oom_kill", "0") not in ("0", ""):
                self.over = self._message()
        return self.over

    def _message(self, used: int | None = None) -> str:
        limit = f"{self.memory_bytes / 2**20:,.0f} MB"
        if used is None:
            return f"the memory limit: the submission's processes together went over {limit}"
        return f"the memory limit: the submission's processes together used {used / 2**20:,.0f} MB, over {limit}"

    def kill(self) -> None:
        """SIGKILL every process of the sandbox (cgroup.kill, else by uid or session)."""
        if self.cgroup:
            try:
                _write(os.path.join(self.cgroup, "cgroup.kill"), "1")
                return
            except OSError:
                for pid in self._members():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                return
        if self.uid is not None:
            kill_all(uid=self.uid)
        elif self.session is not None:
            kill_all(session=self.session)

    def close(self) -> str | None:
        """Kill what is left and remove the cgroup; returns the budget's verdict (None: within it)."""
        verdict = self.verdict()
        self.kill()
        if self.cgroup:
            deadline = time.monotonic() + 5
            while "populated 1" in _read(os.path.join(self.cgroup, "cgroup.events")) and time.monotonic() < deadline:
                time.sleep(0.02)
            self._remove(self.cgroup)
        return verdict

    @staticmethod
    def _remove(folder: str) -> None:
        for _ in range(50):
            try:
                os.rmdir(folder)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)


def ipc_cleanup(uid: int) -> None:
    """Remove the System V IPC objects (shared memory, semaphores, queues) owned by `uid` (root only)."""
    for kind, flag in (("shm", "-m"), ("sem", "-s"), ("msg", "-q")):
        lines = _read(f"/proc/sysvipc/{kind}").splitlines()
        if not lines:
            continue
        header = lines[0].split()
        try:
            uid_col, id_col = header.index("uid"), header.index("shmid" if kind == "shm" else
                                                               "semid" if kind == "sem" else "msqid")
        except ValueError:
            continue
        for line in lines[1:]:
            fields = line.split()
            if len(fields) > max(uid_col, id_col) and fields[uid_col] == str(uid):
                _ipcrm(flag, fields[id_col])


def _ipcrm(flag: str, ident: str) -> None:
    import subprocess

    try:
        subprocess.run(["ipcrm", flag, ident], capture_output=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        pass

