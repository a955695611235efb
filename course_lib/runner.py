"""Execute notebooks with nbclient: progress, wall time, peak memory, HTML pages.

Used by ``course run`` and ``benchmarks/notebook_times.py``. Every file written goes
through `atomic_write`, so a failed or interrupted run never leaves a half-written
notebook or page behind. Kernels talk to the runner over IPC (Unix sockets in a private
temporary folder), not over unencrypted TCP on localhost.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import os
import pathlib
import shutil
import sys
import tempfile
import threading
import time

from course_lib.config import PROFILE_ENV, check_profile
from course_lib.storage import atomic_write


class RunError(ValueError):
    """Bad arguments to the runner (a missing notebook, an unwritable folder)."""


@dataclasses.dataclass
class RunResult:
    """How one notebook run went."""

    path: pathlib.Path
    ok: bool
    seconds: float
    peak_rss_mb: float
    error: str = ""
    failed_cell: int | None = None
    written: list[pathlib.Path] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict:
        return {"notebook": self.path.name, "ok": self.ok, "seconds": round(self.seconds, 2),
                "peak_rss_mb": round(self.peak_rss_mb, 1), "error": self.error, "failed_cell": self.failed_cell}


class _PeakMemory:
    """Samples the resident memory of a process and its children in a thread; `.peak` in bytes."""

    def __init__(self, pid: int, interval: float = 0.2):
        import psutil

        self.proc, self.interval, self.peak = psutil.Process(pid), interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        try:
            procs = [self.proc, *self.proc.children(recursive=True)]
            self.peak = max(self.peak, sum(p.memory_info().rss for p in procs))
        except psutil.Error:
            pass

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self):
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._sample()
        self._stop.set()
        self._thread.join()


@contextlib.contextmanager
def _environment(**values):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update({k: v for k, v in values.items() if v is not None})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def check_notebooks(paths) -> list[pathlib.Path]:
    """Resolve `paths` to notebook files, or raise a `RunError` naming the first bad one."""
    out = []
    for p in paths:
        p = pathlib.Path(p)
        if not p.is_file():
            raise RunError(f"notebook not found: {p}; `course list` shows the course's notebooks")
        if p.suffix != ".ipynb":
            raise RunError(f"not a notebook (expected .ipynb): {p}")
        out.append(p)
    if not out:
        raise RunError("no notebooks to run; give paths or run from the course's root folder")
    return out


def check_writable(folder: pathlib.Path) -> pathlib.Path:
    """Create `folder` and make sure files can be written there, or raise a `RunError`."""
    folder = pathlib.Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise RunError(f"cannot write to output folder {folder} ({exc.strerror or exc}); "
                       f"choose another with --out DIR") from exc
    return folder


def _pid(client) -> int | None:
    km = getattr(client, "km", None)
    provisioner = getattr(km, "provisioner", None)
    process = getattr(provisioner, "process", None)
    return getattr(process, "pid", None)


def _describe_failure(nb, index: int, exc) -> str:
    source = nb.cells[index].source.strip().splitlines()
    first = source[0] if source else ""
    kind = getattr(exc, "ename", type(exc).__name__)
    value = getattr(exc, "evalue", str(exc)).strip().splitlines()
    return f"cell {index} ({first[:60]!r}) raised {kind}: {value[0] if value else ''}"


@contextlib.contextmanager
def kernel_transport():
    """Kernel configuration for nbclient: IPC (Unix sockets in a private temporary folder)
    where the platform has it, so the kernel's traffic never goes over TCP; yields a traitlets
    `Config`. On Windows, or where no temporary folder has a path short enough for a socket
    (about 100 bytes), the kernel stays on TCP as jupyter_client starts it by default."""
    from traitlets.config import Config

    config = Config()
    folder = None
    if os.name != "nt":
        for parent in dict.fromkeys([tempfile.gettempdir(), "/tmp"]):
            if len(os.path.join(parent, "course-kernel-12345678", "k")) <= 96 and os.access(parent, os.W_OK):
                folder = tempfile.mkdtemp(prefix="course-kernel-", dir=parent)   # mode 0700
                config.KernelManager.transport = "ipc"
                config.KernelManager.ip = os.path.join(folder, "k")
                break
    try:
        yield config
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


def execute(path: pathlib.Path, timeout: int = 600, progress: bool = True):
    """Execute one notebook in a fresh kernel; returns (notebook, RunResult) and never raises on cell errors."""
    import nbformat
    from nbclient import NotebookClient

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:
        return None, RunResult(path, False, 0.0, 0.0, f"cannot read notebook: {exc}")
    with kernel_transport() as config:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", config=config,
                                resources={"metadata": {"path": str(path.parent.resolve())}})
        return nb, _execute_cells(client, nb, path, progress)


def _execute_cells(client, nb, path: pathlib.Path, progress: bool) -> RunResult:
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(code_cells), desc=path.stem, unit="cell", leave=False, file=sys.stderr)
    start, peak, error, failed = time.perf_counter(), 0.0, "", None
    try:
        with client.setup_kernel():
            pid = _pid(client)
            monitor = _PeakMemory(pid) if pid else contextlib.nullcontext()
            with monitor:
                for index in code_cells:
                    try:
                        client.execute_cell(nb.cells[index], index)
                    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
                        failed, error = index, _describe_failure(nb, index, exc)
                        break
                    if bar:
                        bar.update()
            peak = getattr(monitor, "peak", 0) / 2**20
    except Exception as exc:  # the kernel would not start
        error = f"kernel failed: {type(exc).__name__}: {exc}"
    finally:
        if bar:
            bar.close()
    return RunResult(path, not error, time.perf_counter() - start, peak, error, failed)


def _write_notebook(nb, target: pathlib.Path) -> None:
    import nbformat

    with atomic_write(target, "w", encoding="utf-8") as f:
        nbformat.write(nb, f)


def _write_html(nb, target: pathlib.Path) -> None:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nb)
    with atomic_write(target, "w", encoding="utf-8") as f:
        f.write(body)


def write_index(results: list[RunResult], folder: pathlib.Path, profile: str) -> pathlib.Path:
    """An index page linking every notebook's HTML page, with status, time and memory."""
    rows = "\n".join(
        f"<tr><td><a href='{html.escape(r.path.stem)}.html'>{html.escape(r.path.stem)}</a></td>"
        f"<td>{'ok' if r.ok else 'FAILED: ' + html.escape(r.error)}</td>"
        f"<td>{r.seconds:.1f}</td><td>{r.peak_rss_mb:.0f}</td></tr>"
        for r in results)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Keras vision course</title></head>"
            f"<body><h1>Keras vision course: notebooks</h1><p>profile: {html.escape(profile)}</p>"
            f"<table border='1' cellpadding='4'><tr><th>notebook</th><th>status</th><th>seconds</th>"
            f"<th>peak MB</th></tr>\n{rows}\n</table></body></html>")
    target = folder / "index.html"
    with atomic_write(target, "w", encoding="utf-8") as f:
        f.write(page)
    return target


def run_notebooks(paths, *, profile: str | None = None, out: os.PathLike | None = None, inplace: bool = False,
                  timeout: int = 600, html_pages: bool = True, progress: bool = True) -> list[RunResult]:
    """Execute notebooks one after another, each in a fresh kernel.

    Args:
        paths: notebook files.
        profile: ``smoke``/``cpu``/``gpu`` for the kernels (``$COURSE_PROFILE``); default: the kernel decides.
        out: folder for the executed notebooks, their HTML pages and ``index.html``.
        inplace: write each executed notebook back over its source (only when it succeeded).
        timeout: seconds one cell may run before it fails.
        html_pages: write an HTML page per notebook and the index (with `out`).
        progress: show a progress bar per notebook.
    """
    notebooks = check_notebooks(paths)
    if profile is not None:
        check_profile(profile)
    if timeout is not None and timeout <= 0:
        raise RunError(f"timeout must be a positive number of seconds, got {timeout}")
    folder = check_writable(pathlib.Path(out)) if out is not None else None
    results = []
    with _environment(**{PROFILE_ENV: profile}):
        for path in notebooks:
            nb, result = execute(path, timeout=timeout, progress=progress)
            if result.ok and folder is not None:
                result.written.append(folder / path.name)
                _write_notebook(nb, folder / path.name)
                if html_pages:
                    result.written.append(folder / f"{path.stem}.html")
                    _write_html(nb, folder / f"{path.stem}.html")
            if result.ok and inplace:
                _write_notebook(nb, path)
                result.written.append(path)
            results.append(result)
    if folder is not None and html_pages:
        write_index(results, folder, profile or os.environ.get(PROFILE_ENV, "default"))
    return results


def format_table(results: list[RunResult]) -> str:
    """A plain-text table: notebook, status, seconds, peak memory."""
    width = max([len(r.path.name) for r in results] + [8])
    lines = [f"{'notebook':<{width}}  {'status':<6}  {'seconds':>8}  {'peak MB':>8}"]
    for r in results:
        lines.append(f"{r.path.name:<{width}}  {'ok' if r.ok else 'FAILED':<6}  {r.seconds:8.1f}  {r.peak_rss_mb:8.0f}")
    total = sum(r.seconds for r in results)
    lines.append(f"{'total':<{width}}  {'':<6}  {total:8.1f}")
    for r in results:
        if not r.ok:
            lines.append(f"{r.path}: {r.error}")
    return "\n".join(lines)
