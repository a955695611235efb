"""Run a submission's code in a separate, limited process and get plain data back.

Isolation, when the grader runs as root and Linux namespaces work ("namespaces" mode):

- ``unshare -n -m -p -i -f --kill-child``: no network (an empty network namespace), a private
  mount namespace, a private PID namespace (when it ends every process in it dies), a private
  System V IPC namespace (shared memory, semaphores and queues die with it; small caps on
  them inside);
- inside, a fresh tmpfs becomes the root: read-only binds of /usr, the Python installation
  and the folder holding NumPy, /dev/null, /dev/zero, /dev/urandom, and an empty writable
  /work; nothing else of the machine is visible (not the repository, the sources, the hidden
  tests nor the other submissions). Data folders inside those binds (/usr/share/datasets,
  where Debian puts Fashion-MNIST) are covered by an empty tmpfs;
- a `Sandbox` with ``keras=True`` adds the ``course_lib`` package folder, read-only at
  /opt/course/course_lib (never the repository or ``assignments/``), a /proc of the sandbox's
  own PID namespace (TensorFlow needs /proc/self), a Keras environment (backend, HOME and
  KERAS_HOME in /work, offline, the profile, thread counts), and the files the grader chose
  to show, each read-only at a path of its own (``/data/...``);
- ``setpriv`` drops to an unprivileged uid of its own (one per worker, so RLIMIT_NPROC
  contains a fork bomb without touching other workers), no capabilities, no_new_privs;
- rlimits per process: CPU seconds, address space, processes, open files, file size, no core files;
- one memory and process budget for all the processes of the sandbox (`budget`: a cgroup v2
  where one can be used, else the grading process sums their memory and kills them all);
- the grading process enforces the wall-clock limits: the code cells, each call, and one
  limit for the whole submission (every worker it needs, and the grader's own steps on its
  results such as evaluating a saved model); it kills the whole sandbox at any of them.
  The sandbox's first process dies with the grading thread that started it (PR_SET_PDEATHSIG),
  so a grader killed with SIGKILL leaves no sandbox running.

Without namespaces ("fallback" mode, only with ``allow_fallback``) the worker is a plain
subprocess with the same rlimits and budget, a scrubbed environment and a temporary working
folder. When the grader runs as root the worker runs under an unprivileged uid of its own
(so RLIMIT_NPROC holds, it cannot write the grader's files, and every process of that uid
and its System V IPC objects are removed after it); otherwise it runs as the grading user.
Either way it can read any file that uid can read (the master solution and the hidden tests
when they are world-readable) and use the network: see `FALLBACK_RISK` and assignments/README.md.
"""

from __future__ import annotations

import contextvars
import ctypes
import ctypes.util
import dataclasses
import functools
import os
import pathlib
import pickle
import resource
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from course_lib.grading import wire
from course_lib.grading.budget import Budget, ipc_cleanup

WORKER = pathlib.Path(__file__).with_name("_worker.py")
UNSHARE = ["-n", "-m", "-p", "-i", "-f", "--kill-child"]

_SETUP = r"""
set -e
root="$1"; uid="$2"; worker="$3"; shift 3
# System V IPC of the sandbox's own IPC namespace (gone with it): small caps on what it may hold
for kv in shmmax=67108864 shmall=16384 shmmni=32 msgmni=16 msgmnb=65536; do
    echo "${kv#*=}" > "/proc/sys/kernel/${kv%%=*}" 2>/dev/null || true
done
echo "32 1024 32 32" > /proc/sys/kernel/sem 2>/dev/null || true
mount -t tmpfs -o size=64m,mode=755,nosuid,nodev tmpfs "$root"
old_ifs="$IFS"; IFS=:
for p in $SANDBOX_BINDS; do mkdir -p "$root$p"; mount -o bind,ro,nosuid,nodev "$p" "$root$p"; done
for l in $SANDBOX_LINKS; do ln -s "${l#*=}" "$root${l%%=*}"; done
for h in $SANDBOX_HIDE; do
    if [ -d "$root$h" ]; then mount -t tmpfs -o size=4k,mode=555,ro,nosuid,nodev tmpfs "$root$h"; fi
done
for f in $SANDBOX_FILES; do
    dst="$root${f%%=*}"; src="${f#*=}"
    if [ -d "$src" ]; then mkdir -p "$dst"; else mkdir -p "$(dirname "$dst")"; touch "$dst"; fi
    mount -o bind,ro,nosuid,nodev "$src" "$dst"
done
IFS="$old_ifs"
mkdir -p "$root/dev" "$root/work" "$root/tmp"
if [ -n "$SANDBOX_PROC" ]; then
    mkdir -p "$root/proc"; mount -t proc -o nosuid,nodev,noexec,hidepid=2 proc "$root/proc"
fi
for d in null zero urandom; do touch "$root/dev/$d"; mount --bind "/dev/$d" "$root/dev/$d"; done
cp "$worker" "$root/work/worker.py"
chmod 444 "$root/work/worker.py"; chown "$uid:$uid" "$root/work"; chmod 1777 "$root/tmp"
unset SANDBOX_BINDS SANDBOX_LINKS SANDBOX_HIDE SANDBOX_FILES SANDBOX_PROC
chroot "$root" /usr/bin/setpriv --reuid="$uid" --regid="$uid" --clear-groups --inh-caps=-all \
    --bounding-set=-all --no-new-privs -- "$@"
"""


@dataclasses.dataclass
class Limits:
    """Limits of one sandboxed run (seconds, bytes, counts).

    `memory_bytes` and `processes` hold for all the processes of the sandbox together (see
    `budget`), and per process as RLIMIT_AS and RLIMIT_NPROC. The CPU-time limit follows from
    them: (load_seconds + 64 * call_seconds) for each thread of `Sandbox.threads`; the
    wall-clock limits are the ones that normally stop a worker: `load_seconds` for the code
    cells, `call_seconds` for each call, and `submission_seconds` for everything the grader
    does for one submission (default: 2 * load_seconds + 8 * call_seconds).
    """

    load_seconds: float = 30.0   # the code cells at the top level, numpy import included
    call_seconds: float = 10.0   # each call of a function
    memory_bytes: int = 3 * 2**30
    processes: int = 32
    file_bytes: int = 16 * 2**20
    result_bytes: int = 64 * 2**20
    submission_seconds: float | None = None
    open_files: int = 512

    def total_seconds(self) -> float:
        """The wall-clock limit of the whole submission."""
        return float(self.submission_seconds or 2 * self.load_seconds + 8 * self.call_seconds)


# What a Keras worker needs (measured with TensorFlow 2.21 on CPU, two threads; see
# assignments/README.md): importing TensorFlow reserves 1.6-1.9 GB of address space, training
# A3's master on 55,000 images 3.6 GB (1.35 GB resident), with 10 threads.
KERAS_LIMITS = Limits(load_seconds=120.0, call_seconds=60.0, memory_bytes=8 * 2**30, processes=128,
                      file_bytes=64 * 2**20)

DATA_ROOT = "/data"          # where `Sandbox.files` appear inside the sandbox; COURSE_DATA_DIR points here
COURSE_ROOT = "/opt/course"  # holds the course_lib package (read-only) when keras=True


@dataclasses.dataclass
class Sandbox:
    """What a spec's sandbox needs beyond NumPy: ``SANDBOX = Sandbox(keras=True, ...)`` in grading.py.

    Args:
        keras: Keras and ``course_lib`` importable (the package folder alone, read-only at
            /opt/course), with KERAS_BACKEND of the grading process, HOME and KERAS_HOME in
            the working folder, COURSE_OFFLINE=1 and the profile the grader runs.
        data: real data a submission may read, by name and split (``{"fashion_mnist": "train"}``);
            the grader resolves it into `files` (see `course_lib.grading.datasets`).
        limits: limits of a run; default `KERAS_LIMITS` with keras, else `Limits()`.
        threads: threads of the numeric libraries (OMP, BLAS, TensorFlow); the CPU-time limit
            grows with it.
        profile: COURSE_PROFILE inside the sandbox (set by the grader).
        files: set by the grader: path under /data -> file outside, bound read-only; COURSE_DATA_DIR=/data.
    """

    keras: bool = False
    data: dict = dataclasses.field(default_factory=dict)
    limits: Limits | None = None
    threads: int = 1
    profile: str | None = None
    files: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.threads, int) or self.threads < 1:
            raise ValueError(f"Sandbox threads must be a positive integer, got {self.threads!r}")
        for inside in self.files:
            parts = pathlib.PurePosixPath(inside).parts
            if not parts or parts[0] == "/" or ".." in parts or any(c in inside for c in ":="):
                raise ValueError(f"Sandbox files are relative paths under {DATA_ROOT} without '..', ':' or '=', "
                                 f"got {inside!r}")

    def effective_limits(self) -> Limits:
        return self.limits or (KERAS_LIMITS if self.keras else Limits())


@dataclasses.dataclass
class CallResult:
    ok: bool
    value: object = None
    error: str = ""
    kind: str = ""  # "" | "error" | "time limit" | "memory limit" | "worker died" | "sandbox error"
    replaced: bool = False  # a locked helper was redefined after its cell; the locked one was called


@dataclasses.dataclass
class RunResult:
    results: dict          # call index -> CallResult
    cell_errors: list      # (cell index, message)
    status: list           # sorted set of problems: "time limit", "memory limit", "worker died", "sandbox error",
                           # "cell errors"
    isolation: str
    load_seconds: float | None = None  # wall time of the code cells (first worker), measured here
    budget: str = ""                   # how the memory budget was held (`Budget.describe`)


@functools.lru_cache(maxsize=1)
def namespaces_available() -> bool:
    """True when running as root with unshare/setpriv/chroot and namespaces that work."""
    if os.name != "posix" or os.geteuid() != 0:
        return False
    if not all(shutil.which(t, path="/usr/sbin:/usr/bin:/sbin:/bin") for t in ("unshare", "setpriv", "chroot", "mount")):
        return False
    try:
        probe = subprocess.run(["unshare", *UNSHARE, "true"],
                               capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


class FallbackRefused(RuntimeError):
    """Grading without namespaces was not allowed explicitly (`isolation_mode(..., allow_fallback=False)`)."""


FALLBACK_RISK = ("without Linux namespaces a submission runs as a plain process: it can read every file the "
                 "grading user can read (the master solution and the hidden tests included) and use the network, "
                 "and unless the grader runs as root it can change the grades and feedback after the grader has "
                 "finished")


def isolation_mode(use_namespaces: bool | None = None, allow_fallback: bool = True) -> str:
    """``namespaces`` or ``fallback``.

    Args:
        use_namespaces: True: namespaces or an error; False: the fallback; None: namespaces where they work.
        allow_fallback: False: raise `FallbackRefused` rather than choose the fallback (what
            ``course grade`` does unless given ``--allow-fallback``).
    """
    if use_namespaces is None:
        use_namespaces = namespaces_available()
        if not use_namespaces and not allow_fallback:
            raise FallbackRefused(f"Linux namespaces are not available here (they need root and util-linux "
                                  f"unshare/setpriv): {FALLBACK_RISK}. Grade as root on Linux, or pass "
                                  "--allow-fallback to grade anyway (trusted submissions, or inside a throwaway "
                                  "container or VM)")
    if use_namespaces and not namespaces_available():
        raise RuntimeError("namespaces were asked for but are not available (needs root, util-linux unshare/setpriv)")
    if not use_namespaces and not allow_fallback:
        raise FallbackRefused(f"--no-namespaces asks for the fallback: {FALLBACK_RISK}. Add --allow-fallback to "
                              "grade this way")
    return "namespaces" if use_namespaces else "fallback"


def _site_dirs() -> list[str]:
    return [str(pathlib.Path(np.__file__).resolve().parents[1])]


def course_package() -> str:
    """The folder of the ``course_lib`` package (the one this module belongs to)."""
    return str(pathlib.Path(__file__).resolve().parents[1])


def keras_backend() -> str:
    """The Keras backend of the grading process: Keras' own answer once imported, else $KERAS_BACKEND."""
    keras = sys.modules.get("keras")
    if keras is not None:
        try:
            return keras.backend.backend()
        except Exception:
            pass
    return os.environ.get("KERAS_BACKEND") or "tensorflow"


def _python() -> str:
    return os.path.realpath(sys.executable)


def _binds_and_links() -> tuple[list[str], list[str]]:
    wanted = ["/usr", os.path.realpath(sys.base_prefix), os.path.dirname(_python()), *_site_dirs()]
    links = []
    for top in ("/bin", "/lib", "/lib64", "/sbin", "/lib32"):
        if os.path.islink(top):
            links.append(f"{top}={os.readlink(top)}")
        elif os.path.isdir(top):
            wanted.append(top)
    binds: list[str] = []
    for path in sorted(set(wanted), key=len):
        if not _inside(path, binds):
            binds.append(path)
    return binds, links


def _inside(path: str, folders) -> bool:
    return any(path == b or path.startswith(b.rstrip("/") + "/") for b in folders)


def hidden_dirs(binds: list[str]) -> list[str]:
    """Data folders inside the binds (the system data folders, $COURSE_DATA_DIR, Keras' cache):
    each gets an empty tmpfs over it, so a submission reads none of their files."""
    from course_lib.data import files

    found = []
    for folder in [*files.SYSTEM_DIRS, *files.search_dirs()]:
        real = os.path.realpath(folder)
        if os.path.isdir(real) and _inside(real, binds) and real not in binds and real not in found and ":" not in real:
            found.append(real)
    return found


_PR_SET_PDEATHSIG = 1


@functools.lru_cache(maxsize=1)
def _libc():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:
        return None


def _limit(limits: Limits, threads: int = 1, budget: Budget | None = None, uid: int | None = None):
    """The child's set-up before exec: rlimits, the budget's cgroup, the uid (fallback as root), death with its parent."""
    cpu = int(threads * (limits.load_seconds + limits.call_seconds * 64)) + 1
    libc = _libc()
    files = min(limits.open_files, resource.getrlimit(resource.RLIMIT_NOFILE)[1])

    def preexec():
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
        if budget is not None:
            budget.enter()
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        if libc is not None:  # after the uid change, which clears it
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)

    return preexec


def _environment(home: str, mode: str, box: Sandbox, data_dir: str) -> dict:
    threads = str(box.threads)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8",
           "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg",
           "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    if box.keras:
        env.update({"KERAS_BACKEND": keras_backend(), "KERAS_HOME": f"{home}/.keras", "COURSE_OFFLINE": "1",
                    "MPLCONFIGDIR": f"{home}/.matplotlib", "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "",
                    "TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": "1"})
    if box.profile:
        env["COURSE_PROFILE"] = box.profile
    if box.files:
        env["COURSE_DATA_DIR"] = data_dir
    if mode == "namespaces":
        binds, links = _binds_and_links()
        env["SANDBOX_BINDS"], env["SANDBOX_LINKS"] = ":".join(binds), ":".join(links)
        env["SANDBOX_HIDE"] = ":".join(hidden_dirs(binds))
        files = {f"{COURSE_ROOT}/course_lib": course_package()} if box.keras else {}
        files.update({f"{DATA_ROOT}/{inside}": os.path.realpath(outside) for inside, outside in box.files.items()})
        for outside in files.values():
            if ":" in outside or "=" in outside:
                raise ValueError(f"a file to bind into the sandbox has ':' or '=' in its path: {outside}")
        env["SANDBOX_FILES"] = ":".join(f"{inside}={outside}" for inside, outside in files.items())
        if box.keras:
            env["SANDBOX_PROC"] = "1"  # TensorFlow reads /proc/self/exe; a proc of the sandbox's own PID namespace
    return env


def _fallback_tree(folder: pathlib.Path, box: Sandbox) -> tuple[str, str]:
    """Fallback mode: symbolic links to the course package and the data files in `folder`.

    Returns (folder to put on sys.path, folder for COURSE_DATA_DIR)."""
    course, data = folder / "course", folder / "data"
    if box.keras:
        course.mkdir(parents=True)
        (course / "course_lib").symlink_to(course_package(), target_is_directory=True)
    for inside, outside in box.files.items():
        link = data / inside
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.realpath(outside))
    return str(course), str(data)


def decode(data, depth=0):
    """Plain data from the worker's JSON: arrays via a checked .npy parser, never pickle (see `wire.decode`)."""
    return wire.decode(data)


@dataclasses.dataclass
class RunContext:
    """What a run of the grading thread shares with every sandbox it starts (set by the grader).

    Args:
        deadline: `time.monotonic()` value at which the whole submission stops (None: no such limit).
        seconds: that limit in seconds, for messages.
        cancel: set when the grading run is interrupted; every sandbox stops and `Cancelled` is raised.
    """

    deadline: float | None = None
    seconds: float | None = None
    cancel: threading.Event | None = None


RUN = contextvars.ContextVar("course_grading_run", default=RunContext())


class Cancelled(Exception):
    """The grading run was interrupted (Ctrl-C, SIGTERM): this submission's result is not kept."""


class Unavailable(Exception):
    """A sandbox the grader needs for its own steps (a model's evaluation) could not start on this machine."""


class _Stop(Exception):
    """Why a worker was stopped: kind ("time limit", "memory limit", "worker died") and a sentence."""

    def __init__(self, kind: str, why: str, total: bool = False):
        super().__init__(why)
        self.kind, self.why, self.total = kind, why, total


class _Worker:
    """One worker process, its budget, and the records it writes."""

    def __init__(self, steps, limits: Limits, mode: str, scratch: pathlib.Path, box: Sandbox):
        self.limits = limits
        job = scratch / f"job-{secrets.token_hex(4)}.pickle"
        job.write_bytes(pickle.dumps({"steps": steps}, protocol=4))
        self.stderr_path = scratch / f"stderr-{secrets.token_hex(4)}.txt"
        self.uid: int | None = None
        drop = None
        if mode == "namespaces":
            root = scratch / f"root-{secrets.token_hex(4)}"
            root.mkdir()
            self.uid = 100_000 + secrets.randbelow(2_000_000_000)
            paths = [*_site_dirs(), *([COURSE_ROOT] if box.keras else [])]
            command = ["unshare", *UNSHARE, "/bin/sh", "-c", _SETUP, "sandbox",
                       str(root), str(self.uid), str(WORKER), _python(), "-I", "-S", "/work/worker.py", "/work", *paths]
            cwd, home, data_dir = str(scratch), "/work", DATA_ROOT
        else:
            work = scratch / f"work-{secrets.token_hex(4)}"
            work.mkdir()
            shutil.copy(WORKER, work / "worker.py")
            course, data_dir = _fallback_tree(scratch / f"tree-{secrets.token_hex(4)}", box)
            paths = [*_site_dirs(), *([course] if box.keras else [])]
            command = [_python(), "-I", "-S", "worker.py", str(work), *paths]
            cwd, home = str(work), str(work)
            if os.geteuid() == 0 and _others_can_use([_python(), sys.base_prefix, *paths, *box.files.values()]):
                self.uid = drop = 100_000 + secrets.randbelow(2_000_000_000)  # fallback as root: a uid of its own
                os.chown(work, drop, drop)
        self.budget = Budget(limits.memory_bytes, limits.processes, box.threads, uid=self.uid)
        with open(job, "rb") as stdin, open(self.stderr_path, "wb") as stderr:
            self.proc = subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE, stderr=stderr, cwd=cwd,
                                         env=_environment(home, mode, box, data_dir),
                                         preexec_fn=_limit(limits, box.threads, self.budget, drop),
                                         start_new_session=True, close_fds=True)
        self.budget.started(self.proc.pid)
        self.mode = mode
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)
        self.reader = wire.RecordReader(limits.result_bytes)
        self.queue: list = []
        self.total = 0
        self.eof = False

    def next_record(self, timeout: float, cancel: threading.Event | None = None):
        """The next JSON record (a dict); None at the end of the output.

        Raises TimeoutError after `timeout` s, `_Stop` when the budget or the result size is
        exceeded, `Cancelled` when `cancel` is set. Reading is linear in the bytes read."""
        deadline = time.monotonic() + timeout
        while True:
            if self.queue:
                return self.queue.pop(0)
            if self.eof:
                return None
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            over = self.budget.check()
            if over:
                self.kill()
                raise _Stop("memory limit", over)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if not self.selector.select(min(left, 0.25)):
                continue
            chunk = os.read(self.proc.stdout.fileno(), 1 << 20)
            if not chunk:
                self.eof = True
                continue
            self.total += len(chunk)
            try:
                if self.total > self.limits.result_bytes:
                    raise OverflowError(f"the results exceeded {self.limits.result_bytes} bytes")
                self.reader.feed(chunk)
                self.queue.extend(self.reader.records())
            except OverflowError as exc:
                self.kill()
                raise _Stop("worker died", str(exc)) from None

    def death(self) -> tuple[str, str]:
        """(kind, sentence) of how the worker ended."""
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.returncode
        over = self.budget.verdict()
        if over:
            return "memory limit", over
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            hint = {"SIGKILL": " (killed: memory, process or time limits)", "SIGXCPU": " (CPU time limit)",
                    "SIGSEGV": " (segmentation fault)"}.get(name, "")
            return "worker died", f"the worker process was killed by {name}{hint}"
        return "worker died", f"the worker process exited with code {code}"

    def stderr_tail(self) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(max(0, self.stderr_path.stat().st_size - 2000))
                return wire.clean_text(f.read().decode("utf-8", "replace"), 2000)
        except OSError:
            return ""

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass
        self.budget.kill()

    def close(self):
        self.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.budget.close()
        if self.mode == "fallback" and self.uid is not None:
            ipc_cleanup(self.uid)
        self.selector.close()
        self.proc.stdout.close()


def _start_worker(steps, limits, mode, scratch, box, tries: int = 3) -> _Worker:
    """A `_Worker`, tried again after a pause when the machine cannot start a process (fork, memory)."""
    for attempt in range(tries):
        try:
            return _Worker(steps, limits, mode, scratch, box)
        except (OSError, subprocess.SubprocessError) as exc:
            if attempt == tries - 1:
                raise OSError(f"{type(exc).__name__}: {exc}") from exc
            time.sleep(1.0 + attempt)
    raise AssertionError("unreachable")


def _others_can_use(paths) -> bool:
    """Whether a user without privileges can reach and read every path (each folder above it searchable)."""
    import stat

    for path in paths:
        path = os.path.realpath(path)
        parts = pathlib.PurePath(path).parents
        try:
            if any(not os.stat(p).st_mode & stat.S_IXOTH for p in parts):
                return False
            if not os.stat(path).st_mode & stat.S_IROTH:
                return False
        except OSError:
            return False
    return True


def _steps(cells, calls, pending, at, capture) -> list:
    """The worker's steps: each cell in order, each pending call before the cell at its position."""
    by_position: dict = {}
    for k in pending:
        by_position.setdefault(at[k], []).append(k)
    steps = []
    for position in range(len(cells) + 1):
        steps += [("call", k, *calls[k]) for k in by_position.get(position, [])]
        if position < len(cells):
            index, text = cells[position]
            steps.append(("cell", index, text, tuple(capture.get(position, ()))))
    return steps


def run_submission(cells, calls, limits: Limits | None = None, use_namespaces: bool | None = None,
                   groups: list | None = None, sandbox: Sandbox | None = None, at: list | None = None,
                   capture: dict | None = None) -> RunResult:
    """Run `cells` ([(index, text)]) in a sandbox and each call of `calls` ([(name, args, kwargs)]) among them.

    Args:
        at: for each call, how many cells run before it (default: all of them); a graded test's
            calls run where its test cell stands, and see what that test cell would have seen.
        capture: {position in `cells`: names}: the functions a (locked) cell defines, captured
            when it has run; a call of one of them calls the captured one.
        groups: the graded test of each call; when a call hits the time limit or kills the
            worker, that call fails, the rest of its test is skipped, and a fresh worker goes
            on with the calls after it. A time limit or a death while the code cells run fails
            every call still to come.
        sandbox, limits: what the worker sees beyond NumPy; `limits`, when given, replace its limits.

    The whole run also stops at the deadline of the grading thread's `RUN` context (one limit
    for the whole submission), and raises `Cancelled` when that context is cancelled.
    """
    box = sandbox or Sandbox()
    limits = limits or box.effective_limits()
    mode = isolation_mode(use_namespaces)
    context = RUN.get()
    groups = groups if groups is not None else list(range(len(calls)))
    at = list(at) if at is not None else [len(cells)] * len(calls)
    capture = capture or {}
    results: dict = {}
    cell_errors: list = []
    status: set = set()
    pending = sorted(range(len(calls)), key=lambda k: (at[k], k))
    load_seconds = None
    budget = ""

    def fail_pending(kind, error):
        for k in pending:
            results[k] = CallResult(False, error=error, kind=kind)
        pending.clear()

    with tempfile.TemporaryDirectory(prefix="course-sandbox-") as scratch:
        os.chmod(scratch, 0o711)
        while pending:
            if context.deadline is not None and time.monotonic() >= context.deadline:
                fail_pending("time limit", f"time limit for the whole submission: stopped after {context.seconds:g} s")
                status.add("time limit")
                break
            try:
                worker = _start_worker(_steps(cells, calls, pending, at, capture), limits, mode, pathlib.Path(scratch),
                                       box)
            except OSError as exc:
                fail_pending("sandbox error", f"the sandbox could not be started on the grading machine ({exc}); "
                                              "this is no fault of yours: the course staff will grade it again")
                status.add("sandbox error")
                break
            budget = budget or worker.budget.describe()
            phase, current = "start", None
            started = time.monotonic()
            cells_used, mark, call_start = 0.0, started, started
            try:
                while True:
                    now = time.monotonic()
                    if phase == "start":
                        left = limits.load_seconds - (now - started)
                    elif phase == "cells":
                        left = limits.load_seconds - cells_used - (now - mark)
                    else:
                        left = limits.call_seconds - (now - call_start)
                    total_left = context.deadline - now if context.deadline is not None else float("inf")
                    try:
                        record = worker.next_record(max(0.0, min(left, total_left)), context.cancel)
                    except TimeoutError:
                        if total_left <= left:
                            raise _Stop("time limit", f"time limit for the whole submission: stopped after "
                                                      f"{context.seconds:g} s", total=True) from None
                        limit = limits.call_seconds if phase == "call" else limits.load_seconds
                        raise _Stop("time limit", f"time limit: stopped after {limit:g} s") from None
                    if record is None:
                        raise EOFError
                    event, now = record.get("event"), time.monotonic()
                    if event == "ready" and phase == "start":
                        phase, mark = "cells", now
                    elif event == "error" and phase == "cells":
                        # a fresh worker runs the cells again: each cell's first error counts once
                        cell = record.get("cell") if type(record.get("cell")) is int else "?"
                        if cell not in {c for c, _ in cell_errors} and len(cell_errors) < 100:
                            cell_errors.append((cell, wire.clean_text(record.get("error"), 1000)))
                    elif event == "start" and phase == "cells" and pending and record.get("i") == pending[0]:
                        cells_used += now - mark
                        phase, current, call_start = "call", pending[0], now
                    elif event == "call" and phase == "call" and record.get("i") == current:
                        replaced = record.get("replaced") is True
                        if "error" in record:
                            results[current] = CallResult(False, error=wire.clean_text(record["error"], 1000),
                                                          kind="error", replaced=replaced)
                        else:
                            try:
                                value = wire.decode(record.get("value"), limits.result_bytes)
                                results[current] = CallResult(True, value=value, replaced=replaced)
                            except ValueError as exc:
                                results[current] = CallResult(False, kind="error", replaced=replaced,
                                                              error=f"the result could not be read ({exc})")
                        pending.pop(0)
                        phase, mark = "cells", now
                    elif event == "done" and phase == "cells":
                        fail_pending("error", "the worker gave no result for this call")
                        break
                if load_seconds is None:
                    load_seconds = cells_used + (time.monotonic() - mark)
            except (_Stop, EOFError) as exc:
                if isinstance(exc, _Stop):
                    kind, why = exc.kind, exc.why
                    worker.kill()
                else:
                    kind, why = worker.death()
                total = isinstance(exc, _Stop) and exc.total
                if phase == "start" and not total:
                    kind = "sandbox error" if kind == "worker died" else kind
                    why = f"the sandbox did not start: {why}. {worker.stderr_tail()[-500:]}".strip()
                if phase in ("start", "cells") or total:
                    where = "" if total else {"start": " (while starting)", "cells": " (while running your code cells)"}[phase]
                    fail_pending(kind, f"{why}{where}")
                else:
                    failed = pending.pop(0)
                    results[failed] = CallResult(False, error=f"{why} (during this call)", kind=kind)
                    while pending and groups[pending[0]] == groups[failed]:
                        results[pending.pop(0)] = CallResult(False, error="skipped: an earlier call of this test failed",
                                                             kind=kind)
                status.add(kind)
            finally:
                worker.close()
    cell_errors.sort(key=lambda e: e[0] if isinstance(e[0], int) else float("inf"))
    if cell_errors:
        status.add("cell errors")
    return RunResult(results, cell_errors, sorted(status), mode, load_seconds, budget)
