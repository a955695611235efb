"""Run a submission's code in a separate, limited process and get plain data back.

Isolation, when the grader runs as root and Linux namespaces work ("namespaces" mode):

- ``unshare -n -m -p -f --kill-child``: no network (an empty network namespace), a private
  mount namespace, a private PID namespace (when it ends every process in it dies);
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
- rlimits: CPU seconds, address space, processes, file size, no core files;
- the grading process enforces wall-clock limits and kills the whole process group.

Without root or namespaces ("fallback" mode) the worker is a plain subprocess with the same
rlimits, a scrubbed environment and a temporary working folder. It can then read any file
the grading user can read, use the network, and, when the grader runs as root, fork
without limit (RLIMIT_NPROC does not apply to root) until the wall-clock limit kills it.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import io
import json
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
import time

import numpy as np

WORKER = pathlib.Path(__file__).with_name("_worker.py")

_SETUP = r"""
set -e
root="$1"; uid="$2"; worker="$3"; shift 3
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

    The CPU-time limit follows from them: (load_seconds + 64 * call_seconds) for each thread
    of `Sandbox.threads`; the wall-clock limits are the ones that normally stop a worker.
    """

    load_seconds: float = 30.0   # the code cells at the top level, numpy import included
    call_seconds: float = 10.0   # each call of a function
    memory_bytes: int = 3 * 2**30
    processes: int = 32
    file_bytes: int = 16 * 2**20
    result_bytes: int = 64 * 2**20


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
    kind: str = ""  # "" | "error" | "time limit" | "worker died" | "sandbox error"


@dataclasses.dataclass
class RunResult:
    results: dict          # call index -> CallResult
    cell_errors: list      # (cell index, message)
    status: list           # sorted set of problems: "time limit", "worker died", "sandbox error", "cell errors"
    isolation: str
    load_seconds: float | None = None  # wall time of the code cells (first worker), measured here


@functools.lru_cache(maxsize=1)
def namespaces_available() -> bool:
    """True when running as root with unshare/setpriv/chroot and namespaces that work."""
    if os.name != "posix" or os.geteuid() != 0:
        return False
    if not all(shutil.which(t, path="/usr/sbin:/usr/bin:/sbin:/bin") for t in ("unshare", "setpriv", "chroot", "mount")):
        return False
    try:
        probe = subprocess.run(["unshare", "-n", "-m", "-p", "-f", "--kill-child", "true"],
                               capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def isolation_mode(use_namespaces: bool | None = None) -> str:
    if use_namespaces is None:
        use_namespaces = namespaces_available()
    if use_namespaces and not namespaces_available():
        raise RuntimeError("namespaces were asked for but are not available (needs root, util-linux unshare/setpriv)")
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


def _limit(limits: Limits, threads: int = 1):
    cpu = int(threads * (limits.load_seconds + limits.call_seconds * 64)) + 1

    def preexec():
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

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
    """Plain data from the worker's JSON: arrays via numpy.load(allow_pickle=False), never pickle."""
    if depth > 8 or not isinstance(data, dict) or len(data) != 1:
        raise ValueError("malformed result")
    (kind, payload), = data.items()
    if kind == "py":
        if payload is not None and not isinstance(payload, (bool, int, float, str)):
            raise ValueError("malformed result")
        return payload
    if kind == "list":
        return tuple(decode(v, depth + 1) for v in payload)
    if kind == "dict":
        return {str(k): decode(v, depth + 1) for k, v in payload.items()}
    if kind == "nd":
        return np.load(io.BytesIO(base64.b64decode(payload)), allow_pickle=False)
    raise ValueError("malformed result")


class _Worker:
    """One worker process and the JSON lines it writes."""

    def __init__(self, cells, calls, limits: Limits, mode: str, scratch: pathlib.Path, box: Sandbox):
        self.limits = limits
        job = scratch / f"job-{secrets.token_hex(4)}.pickle"
        job.write_bytes(pickle.dumps({"cells": cells, "calls": calls}, protocol=4))
        self.stderr_path = scratch / f"stderr-{secrets.token_hex(4)}.txt"
        if mode == "namespaces":
            root = scratch / f"root-{secrets.token_hex(4)}"
            root.mkdir()
            uid = 100_000 + secrets.randbelow(2_000_000_000)
            paths = [*_site_dirs(), *([COURSE_ROOT] if box.keras else [])]
            command = ["unshare", "-n", "-m", "-p", "-f", "--kill-child", "/bin/sh", "-c", _SETUP, "sandbox",
                       str(root), str(uid), str(WORKER), _python(), "-I", "-S", "/work/worker.py", "/work", *paths]
            cwd, home, data_dir = str(scratch), "/work", DATA_ROOT
        else:
            work = scratch / f"work-{secrets.token_hex(4)}"
            work.mkdir()
            shutil.copy(WORKER, work / "worker.py")
            course, data_dir = _fallback_tree(scratch / f"tree-{secrets.token_hex(4)}", box)
            paths = [*_site_dirs(), *([course] if box.keras else [])]
            command = [_python(), "-I", "-S", "worker.py", str(work), *paths]
            cwd, home = str(work), str(work)
        with open(job, "rb") as stdin, open(self.stderr_path, "wb") as stderr:
            self.proc = subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE, stderr=stderr, cwd=cwd,
                                         env=_environment(home, mode, box, data_dir),
                                         preexec_fn=_limit(limits, box.threads),
                                         start_new_session=True, close_fds=True)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)
        self.buffer = b""
        self.total = 0
        self.eof = False

    def next_record(self, timeout: float):
        """The next JSON record; None at end of output; raises TimeoutError after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    return record
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if not self.selector.select(left):
                continue
            chunk = os.read(self.proc.stdout.fileno(), 1 << 20)
            if not chunk:
                self.eof = True
                continue
            self.total += len(chunk)
            if self.total > self.limits.result_bytes:
                self.kill()
                raise OverflowError
            self.buffer += chunk

    def death(self) -> str:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.returncode
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            hint = {"SIGKILL": " (killed: memory, process or time limits)", "SIGXCPU": " (CPU time limit)",
                    "SIGSEGV": " (segmentation fault)"}.get(name, "")
            return f"the worker process was killed by {name}{hint}"
        return f"the worker process exited with code {code}"

    def stderr_tail(self) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(max(0, self.stderr_path.stat().st_size - 2000))
                return f.read().decode("utf-8", "replace")
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

    def close(self):
        self.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.selector.close()
        self.proc.stdout.close()


def run_submission(cells, calls, limits: Limits | None = None, use_namespaces: bool | None = None,
                   groups: list | None = None, sandbox: Sandbox | None = None) -> RunResult:
    """Run `cells` ([(index, text)]) in a sandbox, then each call of `calls` ([(name, args, kwargs)]).

    When a call hits the time limit or kills the worker, that call fails and a fresh worker
    goes on with the calls after it (skipping the rest of the same group, i.e. graded test,
    listed in `groups`). A time limit or a death while the code cells run fails every call.
    `sandbox` says what the worker sees beyond NumPy; `limits`, when given, replace its limits.
    """
    box = sandbox or Sandbox()
    limits = limits or box.effective_limits()
    mode = isolation_mode(use_namespaces)
    groups = groups if groups is not None else list(range(len(calls)))
    results: dict = {}
    cell_errors: list = []
    status: set = set()
    pending = list(range(len(calls)))
    load_seconds = None
    with tempfile.TemporaryDirectory(prefix="course-sandbox-") as scratch:
        os.chmod(scratch, 0o711)
        while pending:
            job_calls = [(k, *calls[k]) for k in pending]
            worker = _Worker(cells, job_calls, limits, mode, pathlib.Path(scratch), box)
            current, phase = None, "start"
            try:
                while True:
                    timeout = limits.call_seconds if phase == "calls" else limits.load_seconds
                    record = worker.next_record(timeout)
                    if record is None:
                        raise EOFError
                    event = record.get("event")
                    if event == "ready" and phase == "start":
                        phase, ready = "load", time.monotonic()
                    elif event == "loaded" and phase == "load":
                        phase = "calls"
                        if load_seconds is None:
                            load_seconds = time.monotonic() - ready
                        if not cell_errors:
                            cell_errors = [(e.get("cell"), str(e.get("error"))[:1000])
                                           for e in record.get("errors", []) if isinstance(e, dict)]
                        current = pending[0] if pending else None
                    elif event == "call" and phase == "calls" and record.get("i") == current:
                        if "error" in record:
                            results[current] = CallResult(False, error=str(record["error"])[:1000], kind="error")
                        else:
                            try:
                                results[current] = CallResult(True, value=decode(record.get("value")))
                            except (ValueError, TypeError, KeyError, AttributeError):
                                results[current] = CallResult(False, error="the result could not be read", kind="error")
                        pending.pop(0)
                        current = pending[0] if pending else None
                    elif event == "done" and phase == "calls":
                        for k in pending:
                            results[k] = CallResult(False, error="the worker gave no result for this call", kind="error")
                        pending = []
                        break
            except (TimeoutError, EOFError, OverflowError) as exc:
                if isinstance(exc, TimeoutError):
                    kind = "time limit"
                    limit = limits.call_seconds if phase == "calls" else limits.load_seconds
                    why = f"time limit: stopped after {limit:g} s"
                    worker.kill()
                elif isinstance(exc, OverflowError):
                    kind, why = "worker died", f"the results exceeded {limits.result_bytes} bytes"
                else:
                    kind, why = "worker died", worker.death()
                if phase == "start":
                    kind = "sandbox error" if kind == "worker died" else kind
                    why = f"the sandbox did not start: {why}. {worker.stderr_tail()[-500:]}".strip()
                if phase in ("start", "load"):
                    where = "while starting" if phase == "start" else "while running your code cells"
                    for k in pending:
                        results[k] = CallResult(False, error=f"{why} ({where})", kind=kind)
                    pending = []
                else:
                    failed = pending.pop(0)
                    results[failed] = CallResult(False, error=f"{why} (during this call)", kind=kind)
                    while pending and groups[pending[0]] == groups[failed]:
                        results[pending.pop(0)] = CallResult(False, error="skipped: an earlier call of this test failed",
                                                             kind=kind)
                status.add(kind)
            finally:
                worker.close()
    if cell_errors:
        status.add("cell errors")
    return RunResult(results, cell_errors, sorted(status), mode, load_seconds)
