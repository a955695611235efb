"""Sandbox worker: runs one submission's code cells and, between them, calls its functions.

Standalone (standard library and NumPy only); the grader copies it into the sandbox and
runs it as ``python -I -S worker.py WORKDIR [SITE_DIR ...]``.

stdin:  a pickle made by the grading process: {"steps": [...]}, in order, each step either
        ("cell", index, text, names): run a code cell; `names` (of a locked helper cell) are
        captured right after it ran, and a call of one of them uses the captured function,
        whatever later cells bind to the name; or
        ("call", k, name, args, kwargs): call a function, where the graded test cell stood,
        so that it sees what that test cell would have seen.
stdout: JSON lines, one per event: ready; error (a cell raised); start k and call k (a
        value or an error) around each call; done. Values are plain data: arrays travel as
        base64 .npy bytes written with allow_pickle=False, so the grader never unpickles
        anything from here. Nothing here is trusted by the grader: a submission runs in this
        process and could write anything on this channel.

A call names a function of the submission, or one of the worker's own (their names are no
Python identifiers, so a submission cannot define them): ``course:read_file`` returns the
bytes of a file the code cells wrote into the working folder (a saved model) as uint8.

The submission's prints go nowhere: fd 1 is moved away for the results and replaced by
/dev/null, and sys.stdout/sys.stderr are sinks.
"""

import base64
import builtins
import io
import json
import os
import pickle
import signal
import stat
import sys
import traceback
import types

MAX_STRING = 10_000
MAX_FILE = 32 * 2**20


class _Sink(io.TextIOBase):
    def write(self, text):
        return len(text) if isinstance(text, str) else 0

    def writable(self):
        return True


def _describe(exc: BaseException) -> str:
    try:
        text = f"{type(exc).__name__}: {exc}"
    except BaseException:
        text = type(exc).__name__
    try:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell ")]
        if frames:
            last = frames[-1]
            text += f" ({last.filename.strip('<>')}, line {last.lineno})"
    except BaseException:
        pass
    return text[:1000]


def _encode(value, np, depth=0):
    if depth > 6:
        raise TypeError("the result is nested too deeply")
    if value is None or isinstance(value, (bool, int, float)) and type(value) in (bool, int, float):
        return {"py": value}
    if type(value) is str:
        return {"py": value[:MAX_STRING]}
    if type(value) in (tuple, list):
        return {"list": [_encode(v, np, depth + 1) for v in value[:1000]]}
    if type(value) is dict:
        return {"dict": {str(k): _encode(v, np, depth + 1) for k, v in list(value.items())[:1000]}}
    array = np.array(value, copy=True, subok=False)
    if array.dtype.hasobject:
        raise TypeError(f"the result should be numbers, got {type(value).__name__}")
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return {"nd": base64.b64encode(buffer.getvalue()).decode("ascii")}


def _file_reader(workdir, np):
    def read_file(name, max_bytes=MAX_FILE):
        """course:read_file: the bytes of the regular file `name` in the working folder, as uint8."""
        if not isinstance(name, str) or "/" in name or name in ("", ".", ".."):
            raise ValueError(f"read_file takes a file name in the working folder, got {name!r}")
        path = os.path.join(workdir, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            raise FileNotFoundError(f"there is no file {name} in the notebook's folder: the notebook did not "
                                    "save it (did the training and saving cells run without errors?)") from None
        except OSError as exc:
            raise OSError(f"{name} cannot be read ({exc.strerror}); it should be a plain file") from None
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(f"{name} is not a plain file")
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ValueError(f"{name} is larger than {max_bytes // 2**20} MB; "
                             "is the model within the parameter budget?")
        return np.frombuffer(data, dtype=np.uint8)

    return read_file


def _copy(obj):
    """A function object of its own (same code, globals, defaults), so that later changes to the
    submission's object (``f.__code__ = ...``) do not reach what the grader calls."""
    if isinstance(obj, types.FunctionType):
        copy = types.FunctionType(obj.__code__, obj.__globals__, obj.__name__, obj.__defaults__, obj.__closure__)
        copy.__kwdefaults__ = obj.__kwdefaults__
        return copy
    return obj


def main():
    workdir, site_dirs = os.path.abspath(sys.argv[1]), sys.argv[2:]
    sys.path[:0] = site_dirs
    os.chdir(workdir)
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    job = pickle.load(sys.stdin.buffer)  # made by the grading process, not by the submission
    results = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(""), _Sink(), _Sink()
    main_pid = os.getpid()
    dumps = json.dumps

    def emit(record):
        if os.getpid() != main_pid:  # a process the submission forked: it has nothing to report
            os._exit(0)
        results.write(dumps(record) + "\n")
        results.flush()

    import numpy as np

    own_calls = {"course:read_file": _file_reader(workdir, np)}
    emit({"event": "ready"})
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    captured, originals = {}, {}
    for step in job["steps"]:
        if step[0] == "cell":
            _, index, text, names = step
            try:
                exec(compile(text, f"<cell {index}>", "exec"), namespace)
            except BaseException as exc:
                emit({"event": "error", "cell": index, "error": _describe(exc)})
            if os.getpid() != main_pid:
                os._exit(0)
            for name in names:
                if name in namespace:
                    originals[name], captured[name] = namespace[name], _copy(namespace[name])
            continue
        _, k, name, args, kwargs = step
        emit({"event": "start", "i": k})
        record = {"event": "call", "i": k}
        try:
            function = own_calls.get(name) or captured.get(name) or namespace.get(name)
            if name in captured and namespace.get(name) is not originals[name]:
                record["replaced"] = True
            if function is None:
                raise NameError(f"name '{name}' is not defined: your notebook does not define it before this "
                                "test, or the cell that defines it raised an error")
            record["value"] = _encode(function(*args, **kwargs), np)
        except BaseException as exc:
            record["error"] = _describe(exc)
        emit(record)
    emit({"event": "done"})
    results.close()
    os._exit(0)  # skip atexit hooks and finalizers a submission may have registered


if __name__ == "__main__":
    main()
