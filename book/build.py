"""Build the course as a static book: ``python -m book.build --out build/site``.

The pages come from the committed notebooks as they are (nothing is executed): the
lectures ``notebooks/NN_*.ipynb`` in order, the student versions of the assignments
``assignments/release/*/*.ipynb``, and the library reference from `course_lib`'s
docstrings. Sphinx with myst-nb and sphinx-book-theme renders them; MathJax 3 is copied
into the site, so the book needs no network, neither to build nor to read.

Before anything is built, every lecture is checked: it must have been run (every code
cell executed), store no error, and carry outputs of a ``cpu`` or ``gpu`` run (the setup
line ``course_lib setup: profile=...``). A notebook that fails is named with the reason,
and nothing is published. The book is built in a temporary folder beside ``--out`` and
moved into place only when the build succeeded, so a failed build leaves the old book.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import pathlib
import pkgutil
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
BOOK = pathlib.Path(__file__).resolve().parent
MATHJAX_ENV = "COURSE_MATHJAX"
MATHJAX_ENTRY = "tex-mml-chtml.js"
SETUP_LINE = re.compile(r"course_lib setup: profile=(\w+) backend=(\w+) device=(\S+)[^\n]*")
LECTURE_NAME = re.compile(r"\d\d_[A-Za-z0-9_]+\.ipynb")
NBVAL_MARKER = re.compile(r"^[ \t]*# NBVAL_[A-Z_]+[ \t]*(\n|$)", re.M)
# The sources of the book in book/ that are copied as they are (build.py itself is not).
STATIC_SOURCES = ("conf.py", "_ext", "_static", "reference.md")


class BookError(ValueError):
    """A reason not to build: bad notebooks, a missing tool, an unusable output folder."""


@dataclasses.dataclass
class Notebook:
    """A notebook that goes into the book."""

    path: pathlib.Path        # the committed file
    docname: str              # where its page lives in the book, e.g. "lectures/05_convolution"
    title: str
    goals: str = ""
    setup_line: str = ""      # the setup cell's report line (lectures only)


# --------------------------------------------------------------------------- finding

def lecture_paths(folder: os.PathLike = ROOT / "notebooks") -> list[pathlib.Path]:
    """The lectures ``NN_topic.ipynb`` of `folder`, in lecture order."""
    return sorted(p for p in pathlib.Path(folder).glob("*.ipynb") if LECTURE_NAME.fullmatch(p.name))


def assignment_paths(folder: os.PathLike = ROOT / "assignments" / "release") -> list[pathlib.Path]:
    """The student versions ``release/NAME/NAME.ipynb`` (else the folder's only notebook), by name."""
    out = []
    for sub in sorted(p for p in pathlib.Path(folder).glob("*") if p.is_dir()):
        own = sub / f"{sub.name}.ipynb"
        found = [own] if own.is_file() else sorted(sub.glob("*.ipynb"))
        out += found[:1]
    return out


def _load(path: pathlib.Path) -> dict:
    """The notebook's JSON, or a `BookError` saying why not (without the path)."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BookError(f"cannot read the notebook ({exc})") from exc
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise BookError("not a Jupyter notebook (no list of cells)")
    return nb


def _read(path: pathlib.Path) -> dict:
    try:
        return _load(path)
    except BookError as exc:
        raise BookError(f"{path}: {exc}") from exc


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _title_and_goals(nb: dict, path: pathlib.Path) -> tuple[str, str]:
    title, goals = "", ""
    for cell in nb["cells"]:
        if cell.get("cell_type") != "markdown":
            continue
        for block in re.split(r"\n\s*\n", _text(cell.get("source"))):
            block = block.strip()
            if not title and block.startswith("# "):
                title = block.splitlines()[0][2:].strip()
                block = "\n".join(block.splitlines()[1:]).strip()
            if not goals and re.match(r"(\*\*)?Goals[.:]", block):
                goals = " ".join(re.sub(r"^(\*\*)?Goals[.:](\*\*)?\s*", "", block).split())
        if title:
            break
    return title or path.stem, goals


def setup_line(nb: dict) -> str:
    """The ``course_lib setup: ...`` line printed by the notebook's setup cell, or ''."""
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                match = SETUP_LINE.search(_text(out.get("text")))
                if match:
                    return match.group(0).strip()
    return ""


def check_lecture(path: pathlib.Path) -> list[str]:
    """Why `path` cannot go into the book as it is; [] when it can."""
    try:
        nb = _load(path)
    except BookError as exc:
        return [str(exc)]
    code = [(i, c) for i, c in enumerate(nb["cells"]) if c.get("cell_type") == "code"]
    problems = []
    if code and not any(c.get("outputs") for _, c in code):
        problems.append("has no outputs: it was never run (run `course run --profile cpu --inplace` on it)")
    else:
        unrun = [i for i, c in code if c.get("execution_count") is None and _text(c.get("source")).strip()]
        if unrun:
            problems.append(f"was not run to the end: cell {unrun[0]} has no execution count "
                            f"(run `course run --profile cpu --inplace` on it)")
    for i, cell in code:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                problems.append(f"stores an error in cell {i}: {out.get('ename', 'Error')}: "
                                f"{_text(out.get('evalue')).strip()[:120]}")
                break
    line = setup_line(nb)
    match = SETUP_LINE.search(line)
    if code and any(c.get("outputs") for _, c in code):
        if not match:
            problems.append("its setup cell printed no 'course_lib setup: profile=...' line "
                            "(the first code cell must call cl.setup())")
        elif match.group(1) not in ("cpu", "gpu"):
            problems.append(f"its outputs come from the {match.group(1)} profile ({line[:60]}...): "
                            f"the book shows cpu or gpu runs (run `course run --profile cpu --inplace` on it)")
    return problems


def collect(lectures, assignments) -> list[Notebook]:
    """Check every lecture and describe every notebook; raise a `BookError` listing all bad lectures."""
    lectures, assignments = [pathlib.Path(p) for p in lectures], [pathlib.Path(p) for p in assignments]
    if not lectures:
        raise BookError("no lectures to build: notebooks/ has no NN_topic.ipynb files")
    bad = []
    for path in lectures:
        if not path.is_file():
            bad.append(f"{path}: no such notebook")
        elif path.suffix != ".ipynb":
            bad.append(f"{path}: not a notebook (expected .ipynb)")
        else:
            bad += [f"{path}: {why}" for why in check_lecture(path)]
    if bad:
        raise BookError("the book was not built; these notebooks cannot go into it as they are:\n  "
                        + "\n  ".join(bad))
    out = []
    for kind, paths in (("lectures", lectures), ("assignments", assignments)):
        for path in paths:
            nb = _read(path)
            title, goals = _title_and_goals(nb, path)
            out.append(Notebook(path, f"{kind}/{path.stem}", title, goals,
                                setup_line(nb) if kind == "lectures" else ""))
    return out


# --------------------------------------------------------------------------- MathJax

def find_mathjax(explicit: os.PathLike | None = None) -> pathlib.Path:
    """The folder of MathJax 3's ``es5`` build: `explicit`, ``$COURSE_MATHJAX``, or the one
    `make` installed with npm into the virtual environment."""
    candidates = [explicit, os.environ.get(MATHJAX_ENV),
                  pathlib.Path(sys.prefix) / "share" / "course-mathjax" / "node_modules" / "mathjax" / "es5"]
    for c in candidates:
        if c and (pathlib.Path(c) / MATHJAX_ENTRY).is_file():
            return pathlib.Path(c)
    tried = ", ".join(str(c) for c in candidates if c)
    raise BookError(f"MathJax 3 not found (looked for {MATHJAX_ENTRY} in {tried}); `make site` installs it "
                    f"with npm (`npm install --prefix {sys.prefix}/share/course-mathjax mathjax@3`), "
                    f"or set {MATHJAX_ENV} to a MathJax 3 es5 folder")


def _copy_mathjax(es5: pathlib.Path, target: pathlib.Path) -> None:
    """The parts of MathJax the pages load: one combined component, extensions, fonts, menu, speech."""
    target.mkdir(parents=True)
    shutil.copy2(es5 / MATHJAX_ENTRY, target / MATHJAX_ENTRY)
    for sub in ("input", "output", "ui", "a11y", "sre", "adaptors"):
        if (es5 / sub).is_dir():
            shutil.copytree(es5 / sub, target / sub)


# --------------------------------------------------------------------------- pages

def _public_modules(package: str = "course_lib") -> dict[str, list[str]]:
    """Top-level modules and subpackages of `package` (in this checkout) -> their public submodules,
    found without importing anything (``course_lib.__main__`` would run the command)."""
    folder = ROOT / package
    groups = {}
    for info in pkgutil.iter_modules([str(folder)]):
        if info.name.startswith("_"):
            continue
        name = f"{package}.{info.name}"
        subs = []
        if info.ispkg:
            subs = [f"{name}.{s.name}" for s in pkgutil.iter_modules([str(folder / info.name)])
                    if not s.name.startswith("_")]
        groups[name] = subs
    return groups


def _reference_pages(src: pathlib.Path) -> list[str]:
    pages = []
    for module, subs in _public_modules().items():
        short = module.split(".", 1)[1]
        lines = [f"# `{module}`", "", "```{eval-rst}", f".. automodule:: {module}"]
        lines += ["   :members:", "   :ignore-module-all:"] if subs else ["   :members:"]
        lines.append("```")
        for sub in subs:
            lines += ["", f"## `{sub}`", "", "```{eval-rst}", f".. automodule:: {sub}", "   :members:", "```"]
        (src / "reference" / f"{short}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
        pages.append(f"reference/{short}")
    return pages


def _escape_md(text: str) -> str:
    return text.replace("<", "&lt;")


def _index_page(notebooks: list[Notebook], reference: list[str]) -> str:
    intro = (BOOK / "landing.md").read_text(encoding="utf-8").rstrip()
    lectures = [n for n in notebooks if n.docname.startswith("lectures/")]
    assignments = [n for n in notebooks if n.docname.startswith("assignments/")]
    lines = [intro, "", "## Lectures", ""]
    for n in lectures:
        lines.append(f"- {{doc}}`{n.docname}`" + (f" — {_escape_md(n.goals)}" if n.goals else ""))
    if assignments:
        lines += ["", "## Assignments", "",
                  "The student versions, as `course release` writes them: fill in the code, run the "
                  "visible tests, hand the notebook in.", ""]
        for n in assignments:
            lines.append(f"- {{doc}}`{n.docname}`" + (f" — {_escape_md(n.goals)}" if n.goals else ""))
    lines += ["", "## Library reference", "",
              "The helper library `course_lib` that the notebooks and assignments share: "
              "{doc}`reference`.", ""]
    for caption, docs in (("Lectures", [n.docname for n in lectures]),
                          ("Assignments", [n.docname for n in assignments]),
                          ("Reference", ["reference"])):
        if docs:
            lines += ["```{toctree}", f":caption: {caption}", ":hidden:", ":maxdepth: 1", "", *docs, "```", ""]
    return "\n".join(lines)


def stage(notebooks: list[Notebook], src: pathlib.Path, mathjax: pathlib.Path) -> None:
    """Lay out the book's sources in `src`: conf.py and friends, the landing page, the notebooks."""
    for name in STATIC_SOURCES:
        path = BOOK / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.is_file():
            shutil.copy2(path, src / name)
    _copy_mathjax(mathjax, src / "_static" / "mathjax")
    (src / "reference").mkdir()
    reference = _reference_pages(src)
    ref = (src / "reference.md").read_text(encoding="utf-8")
    (src / "reference.md").write_text(ref.rstrip() + "\n\n```{toctree}\n:maxdepth: 1\n\n"
                                      + "\n".join(reference) + "\n```\n", encoding="utf-8")
    for n in notebooks:
        nb = _read(n.path)
        # Code cells carry no kernelspec in the committed notebooks; tell Pygments the language.
        nb.setdefault("metadata", {}).setdefault("language_info", {"name": "python", "pygments_lexer": "ipython3"})
        for cell in nb["cells"]:      # nbval's markers are for the tests, not for readers
            if cell.get("cell_type") == "code":
                cell["source"] = NBVAL_MARKER.sub("", _text(cell.get("source")))
        target = src / f"{n.docname}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
    (src / "index.md").write_text(_index_page(notebooks, reference), encoding="utf-8")
    (src / "_course_book.json").write_text(json.dumps(
        {n.docname: {"file": n.path.name, "setup_line": n.setup_line,
                     "repo_path": _repo_path(n.path)} for n in notebooks}), encoding="utf-8")


def _repo_path(path: pathlib.Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return path.name


# --------------------------------------------------------------------------- building

def _sphinx(src: pathlib.Path, html: pathlib.Path, jobs: int, quiet: bool) -> None:
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-j", str(jobs), "-d", str(src.parent / "doctrees"),
           str(src), str(html)]
    if quiet:
        cmd.insert(3, "-q")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "COURSE_PROFILE": "smoke", "COURSE_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
           "KERAS_BACKEND": "numpy"}   # importing the library for its docstrings needs no TensorFlow
    result = subprocess.run(cmd, env=env, cwd=src)
    if result.returncode:
        raise BookError(f"sphinx-build failed (exit {result.returncode}); the messages above say where")


def _publish(html: pathlib.Path, out: pathlib.Path) -> None:
    """Replace `out` with `html` (both in one folder, so each step is a rename)."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    os.replace(html, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build(out: os.PathLike = ROOT / "build" / "site", *, lectures=None, assignments=None,
          mathjax: os.PathLike | None = None, jobs: int = 1, quiet: bool = True) -> pathlib.Path:
    """Check the notebooks, build the book in a temporary folder, then move it to `out`.

    Args:
        out: the folder of the finished book (its ``index.html``); replaced only on success.
        lectures: lecture notebooks (default: ``notebooks/NN_*.ipynb`` in order).
        assignments: student notebooks (default: ``assignments/release/*/*.ipynb``).
        mathjax: MathJax 3's ``es5`` folder (default: see `find_mathjax`).
        jobs: Sphinx processes (1 is fastest for this book: each worker would import the library again).
        quiet: show only Sphinx's warnings and errors.

    Returns:
        `out`.
    """
    out = pathlib.Path(out).absolute()
    notebooks = collect(lecture_paths() if lectures is None else lectures,
                        assignment_paths() if assignments is None else assignments)
    es5 = find_mathjax(mathjax)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        work = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))
    except OSError as exc:
        raise BookError(f"cannot write beside the output folder {out} ({exc.strerror or exc}); "
                        f"choose another with --out DIR") from exc
    try:
        src, html = work / "src", work / "html"
        src.mkdir()
        stage(notebooks, src, es5)
        _sphinx(src, html, jobs, quiet)
        downloads = html / "_notebooks"
        for n in notebooks:       # the committed files, byte for byte, for the download links
            (downloads / n.docname).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(n.path, downloads / f"{n.docname}.ipynb")
        for junk in (".buildinfo", ".doctrees", "_sources"):
            with contextlib.suppress(FileNotFoundError):
                (html / junk).unlink() if (html / junk).is_file() else shutil.rmtree(html / junk)
        _publish(html, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m book.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "build" / "site"), help="the book's folder (default build/site)")
    parser.add_argument("--lectures", nargs="*", help="lecture notebooks (default notebooks/NN_*.ipynb)")
    parser.add_argument("--assignments", nargs="*", help="student notebooks (default assignments/release/*)")
    parser.add_argument("--mathjax", help=f"MathJax 3 es5 folder (default ${MATHJAX_ENV}, else the one in the venv)")
    parser.add_argument("--jobs", type=int, default=1, help="Sphinx processes (default 1)")
    parser.add_argument("--verbose", action="store_true", help="show all of Sphinx's messages")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        out = build(args.out, lectures=args.lectures, assignments=args.assignments, mathjax=args.mathjax,
                    jobs=args.jobs, quiet=not args.verbose)
    except BookError as exc:
        print(f"make site: error: {exc}", file=sys.stderr)
        return 2
    print(f"book built in {time.perf_counter() - start:.0f} s: open {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
