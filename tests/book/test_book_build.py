"""The book's builder without a browser: which notebooks it takes, in which order, and what
it refuses (a notebook never run, one that stores an error, one with smoke-profile
outputs), naming the notebook and the reason and leaving the published book as it was."""

import json
import pathlib
import sys

import nbformat
import pytest

from book import build

ROOT = pathlib.Path(__file__).resolve().parents[2]
CPU_LINE = ("course_lib setup: profile=cpu backend=tensorflow device=cpu seed=0 python=3.11.7 keras=3.15.1\n")


def lecture(path, setup_output=CPU_LINE, extra_outputs=(), run=True):
    """A small lecture notebook: title and goals, a setup cell with its report line, one more cell."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 01 · A lecture\n\n**Goals.** See that the builder works."),
                nbformat.v4.new_code_cell("import course_lib as cl\ncfg = cl.setup(seed=0)"),
                nbformat.v4.new_markdown_cell("## 1. Something\nwith $x^2$"),
                nbformat.v4.new_code_cell("print(6 * 7)")]
    if run:
        setup_cell, other = nb.cells[1], nb.cells[3]
        setup_cell.execution_count, other.execution_count = 1, 2
        if setup_output:
            setup_cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=setup_output)]
        other.outputs = [nbformat.v4.new_output("stream", name="stdout", text="42\n"), *extra_outputs]
    nbformat.write(nb, path)
    return path


@pytest.fixture
def published(tmp_path):
    """A book already in place, which a failed build must leave alone."""
    out = tmp_path / "build" / "site"
    out.mkdir(parents=True)
    (out / "index.html").write_text("the old book")
    return out


def assert_untouched(out):
    assert (out / "index.html").read_text() == "the old book"
    assert sorted(p.name for p in out.parent.iterdir()) == ["site"], "a temporary folder was left behind"


def test_lectures_in_order_and_only_nn_topic(tmp_path):
    for name in ("10_later.ipynb", "02_b.ipynb", "00_a.ipynb", "scratch.ipynb", "2_bad.ipynb"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in build.lecture_paths(tmp_path)] == ["00_a.ipynb", "02_b.ipynb", "10_later.ipynb"]


def test_assignments_are_the_release_notebooks(tmp_path):
    for name in ("a2_conv", "a1_backprop"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.ipynb").write_text("{}")
    (tmp_path / "a1_backprop" / "notes.ipynb").write_text("{}")
    assert [p.parent.name for p in build.assignment_paths(tmp_path)] == ["a1_backprop", "a2_conv"]
    committed = build.assignment_paths()
    assert committed and all(p.parts[-3] == "release" for p in committed)


def test_every_committed_lecture_can_go_into_the_book():
    paths = build.lecture_paths()
    assert [p.name for p in paths][:2] == ["00_setup.ipynb", "01_perceptron.ipynb"]
    assert {p.name: build.check_lecture(p) for p in paths} == {p.name: [] for p in paths}


def test_title_goals_and_setup_line_are_read(tmp_path):
    [nb] = build.collect([lecture(tmp_path / "01_a.ipynb")], [])
    assert (nb.title, nb.goals, nb.docname) == ("01 · A lecture", "See that the builder works.", "lectures/01_a")
    assert nb.setup_line.startswith("course_lib setup: profile=cpu backend=tensorflow device=cpu")


@pytest.mark.parametrize("kind, reason", [
    ("unrun", "has no outputs: it was never run"),
    ("error", "stores an error in cell 3: ValueError: planted"),
    ("smoke", "outputs come from the smoke profile"),
    ("no_setup_line", "printed no 'course_lib setup: profile=...' line"),
    ("half_run", "was not run to the end: cell 3 has no execution count"),
])
def test_bad_lecture_is_named_with_its_reason_and_nothing_is_published(tmp_path, published, kind, reason):
    good = lecture(tmp_path / "00_good.ipynb")
    bad = tmp_path / "01_bad.ipynb"
    if kind == "unrun":
        lecture(bad, run=False)
    elif kind == "error":
        lecture(bad, extra_outputs=[nbformat.v4.new_output("error", ename="ValueError", evalue="planted",
                                                           traceback=["ValueError: planted"])])
    elif kind == "smoke":
        lecture(bad, setup_output=CPU_LINE.replace("profile=cpu", "profile=smoke"))
    elif kind == "no_setup_line":
        lecture(bad, setup_output="hello\n")
    elif kind == "half_run":
        lecture(bad)
        nb = json.loads(bad.read_text())
        nb["cells"][3]["execution_count"] = None
        bad.write_text(json.dumps(nb))
    with pytest.raises(build.BookError) as info:
        build.build(published, lectures=[good, bad], assignments=[])
    message = str(info.value)
    assert f"{bad}: " in message and reason in message and "00_good" not in message
    assert_untouched(published)


def test_every_bad_lecture_is_listed_at_once(tmp_path, published):
    a = lecture(tmp_path / "01_a.ipynb", run=False)
    b = lecture(tmp_path / "02_b.ipynb", setup_output=CPU_LINE.replace("cpu", "smoke", 1))
    c = tmp_path / "03_c.ipynb"
    c.write_text("{not json")
    d = tmp_path / "04_missing.ipynb"
    with pytest.raises(build.BookError) as info:
        build.build(published, lectures=[a, b, c, d], assignments=[])
    lines = str(info.value).splitlines()
    assert lines[0].startswith("the book was not built")
    assert [line.strip().split(":")[0] for line in lines[1:]] == [str(a), str(b), str(c), str(d)]
    assert "cannot read the notebook" in lines[3] and "no such notebook" in lines[4]
    assert_untouched(published)


def test_main_prints_the_reason_and_exits_2(tmp_path, published, capsys):
    bad = lecture(tmp_path / "01_bad.ipynb", run=False)
    assert build.main(["--out", str(published), "--lectures", str(bad), "--assignments"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("make site: error: the book was not built") and "01_bad.ipynb: has no outputs" in err
    assert_untouched(published)


def test_no_lectures_at_all(tmp_path, published):
    with pytest.raises(build.BookError, match="no lectures to build"):
        build.build(published, lectures=[], assignments=[])


def test_a_failed_sphinx_run_leaves_the_old_book(tmp_path, published, monkeypatch):
    def broken(src, html, jobs, quiet):
        (html / "index.html").parent.mkdir(parents=True)
        (html / "index.html").write_text("half a book")
        raise build.BookError("sphinx-build failed (exit 2)")

    monkeypatch.setattr(build, "_sphinx", broken)
    monkeypatch.setenv(build.MATHJAX_ENV, str(fake_mathjax(tmp_path)))
    with pytest.raises(build.BookError, match="sphinx-build failed"):
        build.build(published, lectures=[lecture(tmp_path / "01_a.ipynb")], assignments=[])
    assert_untouched(published)


def test_missing_mathjax_says_how_to_get_it(tmp_path, published, monkeypatch):
    monkeypatch.delenv(build.MATHJAX_ENV, raising=False)
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))
    with pytest.raises(build.BookError, match="MathJax 3 not found.*npm install.*mathjax@3"):
        build.build(published, lectures=[lecture(tmp_path / "01_a.ipynb")], assignments=[])
    assert_untouched(published)


def test_publish_replaces_the_old_book(tmp_path, published):
    new = tmp_path / "build" / ".site.build-x"
    new.mkdir()
    (new / "index.html").write_text("the new book")
    build._publish(new, published)
    assert (published / "index.html").read_text() == "the new book"
    assert sorted(p.name for p in published.parent.iterdir()) == ["site"]


def test_unwritable_output_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(build.MATHJAX_ENV, str(fake_mathjax(tmp_path)))
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    with pytest.raises(build.BookError, match="cannot write beside the output folder.*--out"):
        build.build(blocker / "site", lectures=[lecture(tmp_path / "01_a.ipynb")], assignments=[])


def fake_mathjax(tmp_path) -> pathlib.Path:
    es5 = tmp_path / "mathjax-es5"
    es5.mkdir(exist_ok=True)
    (es5 / build.MATHJAX_ENTRY).write_text("/* not MathJax */")
    return es5


def test_index_lists_lectures_assignments_and_reference(tmp_path):
    notebooks = build.collect([lecture(tmp_path / "01_a.ipynb")], [])
    page = build._index_page(notebooks, ["reference/config"])
    assert "{doc}`lectures/01_a` — See that the builder works." in page
    assert ":caption: Lectures" in page and "lectures/01_a" in page and ":caption: Reference" in page
    assert "## Assignments" not in page
