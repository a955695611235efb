"""The committed notebooks: outputs from a cpu or gpu run, figures present, no errors, the shape of a lecture.

nbval (run on notebooks/ by `make test`) re-executes them in the smoke profile but does not
compare images; these checks read the committed files instead.
"""

import json
import pathlib
import re

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
DRAWS = re.compile(r"cl\.viz\.|plt\.subplots|plt\.figure|\.imshow\(|\.plot\(|\.bar\(")


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def src(cell) -> str:
    return "".join(cell["source"])


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def nb(request):
    return json.loads(request.param.read_text())


def test_there_are_notebooks():
    names = [p.name for p in NOTEBOOKS]
    assert "00_setup.ipynb" in names and "01_perceptron.ipynb" in names
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", n) for n in names), names


def test_every_code_cell_ran_without_error(nb):
    for i, cell in enumerate(code_cells(nb)):
        assert cell.get("execution_count") is not None, f"code cell {i} was not executed"
        assert not [o for o in cell["outputs"] if o["output_type"] == "error"], f"code cell {i} stored an error"


def test_outputs_come_from_cpu_or_gpu_profile(nb):
    first = code_cells(nb)[0]
    assert "cl.setup(" in src(first), "the first code cell must call cl.setup()"
    text = "".join(src({"source": o.get("text", "")}) for o in first["outputs"] if o["output_type"] == "stream")
    match = re.search(r"course_lib setup: profile=(\w+) backend=(\w+) device=", text)
    assert match, "the setup cell's output must hold the course_lib setup line"
    assert match.group(1) in ("cpu", "gpu"), f"committed outputs come from the {match.group(1)} profile"


def test_cells_that_draw_have_figures(nb):
    for i, cell in enumerate(code_cells(nb)):
        if DRAWS.search(src(cell)):
            pngs = [o for o in cell["outputs"] if "image/png" in o.get("data", {})]
            assert pngs, f"code cell {i} draws but its committed outputs hold no figure:\n{src(cell)[:200]}"


def test_lecture_structure(nb):
    md = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    assert re.match(r"# \d\d · ", md[0]), "the first cell is the title '# NN · Topic'"
    assert "**Goals.**" in md[0]
    headings = [line for text in md for line in text.splitlines() if line.startswith("## ")]
    assert "## Summary" in headings, "a lecture ends with '## Summary' (what this run showed)"
    assert "## Exercises" in headings, "and '## Exercises'"
    numbered = [i for i, h in enumerate(headings) if re.match(r"## \d+\.", h)]
    assert not numbered or headings.index("## Summary") > max(numbered), "the Summary follows the numbered sections"
    assert sum("cl.setup(" in src(c) for c in code_cells(nb)) == 1, "exactly one setup cell"


def test_no_backend_imports_or_agg(nb):
    for cell in code_cells(nb):
        text = src(cell)
        assert not re.search(r"^\s*(import|from) tensorflow", text, re.M), "notebooks import keras, never tensorflow"
        assert "matplotlib.use(" not in text, "matplotlib.use('Agg') drops figures from the outputs"


def test_checked_cells_have_outputs(nb):
    checked = [c for c in code_cells(nb) if "# NBVAL_CHECK_OUTPUT" in src(c)]
    assert checked, "each notebook checks at least one deterministic cell with # NBVAL_CHECK_OUTPUT"
    for cell in checked:
        assert cell["outputs"], f"a checked cell has no stored output:\n{src(cell)[:200]}"


def test_no_committed_claim_failed(nb):
    """cl.claim prints 'claim: ...: DID NOT HOLD' when a run contradicts its prose."""
    for i, cell in enumerate(code_cells(nb)):
        for o in cell["outputs"]:
            text = "".join(o.get("text", "")) if o["output_type"] == "stream" else ""
            failed = [line for line in text.splitlines() if line.startswith("claim: ") and ": DID NOT HOLD" in line]
            assert not failed, f"code cell {i}: a claim of the prose did not hold in this run: {failed}"
