"""A2 · Convolution and pooling by hand, graded: the master scores full marks, the release an honest
zero, a plain-loop solution full marks, and each typical mistake costs the tests it breaks with a
feedback line that says what to look at. The master also runs from top to bottom as a notebook,
its Keras comparison included, while the code the grader runs needs nothing but NumPy.
"""

import copy

import pytest

from course_lib.grading import grader, notebook
from tests.grading.conftest import (ASSIGNMENTS, LIMITS, add_cell, cell_index, load, read_csv, run_cells, set_source,
                                    write)

A2 = "a2_conv"
FULL = 20

# A student's solution with plain loops, written independently of the master's einsum version.
CONV_FORWARD = '''
def conv_forward(x, w, b, stride=1, pad=0):
    n, height, width, channels = x.shape
    kh, kw, _, filters = w.shape
    h_out, w_out = conv_output_size(height, kh, stride, pad), conv_output_size(width, kw, stride, pad)
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    out = np.zeros((n, h_out, w_out, filters))
    for i in range(h_out):
        for j in range(w_out):
            window = xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            for f in range(filters):
                out[:, i, j, f] = np.sum(window * w[:, :, :, f], axis=(1, 2, 3)) + b[f]
    return out
'''
CONV_BACKWARD = '''
def conv_backward(dout, x, w, b, stride=1, pad=0):
    height, width = x.shape[1:3]
    kh, kw = w.shape[:2]
    h_out, w_out = dout.shape[1:3]
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    dxp, dw = np.zeros(xp.shape), np.zeros(w.shape)
    db = dout.sum(axis=(0, 1, 2))
    for i in range(h_out):
        for j in range(w_out):
            rows, cols = slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw)
            for f in range(w.shape[3]):
                g = dout[:, i, j, f][:, None, None, None]
                dw[:, :, :, f] += np.sum(xp[:, rows, cols, :] * g, axis=0)
                dxp[:, rows, cols, :] += w[:, :, :, f] * g
    return dxp[:, pad:pad + height, pad:pad + width], dw, db
'''
MAXPOOL = '''
def maxpool_forward(x, pool, stride):
    n, height, width, c = x.shape
    h_out, w_out = conv_output_size(height, pool, stride, 0), conv_output_size(width, pool, stride, 0)
    out = np.zeros((n, h_out, w_out, c))
    for i in range(h_out):
        for j in range(w_out):
            out[:, i, j, :] = x[:, i * stride:i * stride + pool, j * stride:j * stride + pool, :].max(axis=(1, 2))
    return out


def maxpool_backward(dout, x, pool, stride):
    dx = np.zeros(x.shape)
    for n in range(dout.shape[0]):
        for i in range(dout.shape[1]):
            for j in range(dout.shape[2]):
                for c in range(dout.shape[3]):
                    window = x[n, i * stride:i * stride + pool, j * stride:j * stride + pool, c]
                    u, v = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, i * stride + u, j * stride + v, c] += dout[n, i, j, c]
    return dx
'''


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"{old!r} is not in the loop solution"
    return text.replace(old, new)


def _loops(conv_forward=CONV_FORWARD, conv_backward=CONV_BACKWARD, maxpool=MAXPOOL) -> dict:
    nb = set_source(load("master", A2), "conv_forward", conv_forward)
    nb = set_source(nb, "conv_backward", conv_backward)
    return set_source(nb, "maxpool", maxpool)


# student: (notebook, {test: points lost}, words the failing test's feedback line contains)
MISTAKES = {
    "stride_ignored": (
        lambda: _loops(conv_forward=_replace(CONV_FORWARD, "i * stride:i * stride + kh, j * stride:j * stride + kw",
                                             "i:i + kh, j:j + kw")),
        {"test_conv_forward": 3, "test_conv_pool_keras": 2}, ["stride=2", "out differs", "starts at row i*S"]),
    "flipped_kernel": (
        lambda: _loops(conv_backward=_replace(CONV_BACKWARD, "w[:, :, :, f] * g", "w[::-1, ::-1, :, f] * g")),
        {"test_conv_backward_dx": 3, "test_conv_pool_keras": 2}, ["dx differs", "not flipped or transposed"]),
    "spread_pool_gradient": (
        lambda: _loops(maxpool=_replace(
            MAXPOOL, "dx[n, i * stride + u, j * stride + v, c] += dout[n, i, j, c]",
            "dx[n, i * stride:i * stride + pool, j * stride:j * stride + pool, c] += dout[n, i, j, c] / pool ** 2")),
        {"test_maxpool_backward": 3, "test_conv_pool_keras": 2}, ["dx differs", "not spread over the window"]),
    "one_sided_difference": (
        lambda: set_source(load("master", A2), "numerical_gradient",
                           "def numerical_gradient(f, x, df, h=1e-5):\n"
                           "    grad = np.zeros_like(x, dtype=np.float64)\n"
                           "    base = np.sum(f(x) * df)\n"
                           "    for i in np.ndindex(x.shape):\n"
                           "        old = x[i]\n"
                           "        x[i] = old + h\n"
                           "        grad[i] = (np.sum(f(x) * df) - base) / h\n"
                           "        x[i] = old\n"
                           "    return grad\n"),
        {"test_numerical_gradient": 2}, ["differs", "(L(x + h) - L(x - h)) / (2h)"]),
    "float_output_size": (
        lambda: set_source(load("master", A2), "conv_output_size",
                           "def conv_output_size(size, kernel, stride, pad):\n"
                           "    out = (size - kernel + 2 * pad) / stride + 1\n"
                           "    if out != int(out) or out < 1:\n"
                           "        raise ValueError(f'{size}, {kernel}, {stride}, {pad} do not fit')\n"
                           "    return out\n"),
        # the float breaks np.zeros in the loops; the master's vectorized code does not use the sizes
        {"test_conv_output_size": 2}, ["should be an int", "use //"]),
}


# A stub numerical_gradient, and the locked helper the grader calls rewritten to return exact gradients
# (of sum(f(x) * df) for the functions the helper checks): the helper runs as released, so it earns nothing.
REWRITTEN_HELPER = ("def gradient_examples(x, df):\n"
                    "    return {'sin': np.cos(x) * df, 'cumsum': np.cumsum(df[..., ::-1], axis=-1)[..., ::-1],\n"
                    "            'sum of squares': 2 * x}\n")


def _stubbed_gradient() -> dict:
    """The master with numerical_gradient as released (a stub): test_numerical_gradient is worth 0."""
    released = load("released", A2)
    return set_source(load("master", A2), "numerical_gradient",
                      "".join(released["cells"][cell_index(released, "numerical_gradient")]["source"]))


def _moved_to_end(nb: dict, grade_id: str, before: str) -> dict:
    """`grade_id`'s cell moved to the end of the notebook, after a new cell `before`."""
    nb = copy.deepcopy(nb)
    cell = nb["cells"].pop(cell_index(nb, grade_id))
    nb = add_cell(nb, before)
    nb["cells"].append(cell)
    return nb


# class 5: what the hidden tests call must be what the test cell saw. Each of these earns nothing for
# test_numerical_gradient: a later redefinition of the locked helper the grader calls, the same before
# a test cell moved to the end, the helper's code swapped in place, and a numerical_gradient written
# only after its test cell (as "Restart & Run All" would show: the test cell fails).
REDEFINITIONS = {
    "redefined_later": lambda: add_cell(_stubbed_gradient(), REWRITTEN_HELPER),
    "redefined_before_moved_test": lambda: _moved_to_end(_stubbed_gradient(), "test_numerical_gradient",
                                                         REWRITTEN_HELPER),
    "code_swapped": lambda: add_cell(_stubbed_gradient(), REWRITTEN_HELPER.replace("def gradient_examples", "def exact")
                                     + "gradient_examples.__code__ = exact.__code__\n"),
    "defined_too_late": lambda: add_cell(_stubbed_gradient(), "".join(
        load("master", A2)["cells"][cell_index(load("master", A2), "numerical_gradient")]["source"])
        .replace("### BEGIN SOLUTION\n", "").replace("### END SOLUTION\n", ""),
        at=cell_index(load("master", A2), "test_numerical_gradient") + 1),
}


def _without_cell(nb: dict, grade_id: str) -> dict:
    nb = copy.deepcopy(nb)
    nb["cells"] = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") != grade_id]
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("a2_subs")
    submissions = {"master": load("master", A2), "stub": load("released", A2), "loops": _loops(),
                   "helper_rewritten": set_source(load("released", A2), "gradient_helpers", REWRITTEN_HELPER),
                   "helper_deleted": _without_cell(load("master", A2), "gradient_helpers"),
                   "stubbed_gradient": _stubbed_gradient(),
                   **{student: make() for student, make in REDEFINITIONS.items()},
                   **{student: make() for student, (make, _, _) in MISTAKES.items()}}
    for i, (student, nb) in enumerate(submissions.items()):
        write(folder, student, nb, as_folder=i % 2 == 0, name=A2)
    out = tmp_path_factory.mktemp("a2_out") / "grades.csv"
    report = grader.grade(A2, folder, out, jobs=2, root=ASSIGNMENTS, limits=LIMITS)
    feedback = {p.stem: p.read_text() for p in report.feedback_dir.glob("*.md")}
    return read_csv(out), feedback


def _line(feedback: str, grade_id: str) -> str:
    """The feedback lines of one test: its verdict and, when it failed, the reason."""
    lines = feedback.splitlines()
    start = next(i for i, line in enumerate(lines) if f"] {grade_id} (" in line)
    return "\n".join(lines[start:start + 2])


def test_master_and_a_loop_solution_score_full_marks(graded):
    rows, feedback = graded
    for student in ("master", "loops"):
        assert int(rows[student]["total"]) == FULL and rows[student]["status"] == "ok", feedback[student]


def test_released_stubs_score_an_honest_zero(graded):
    rows, feedback = graded
    assert int(rows["stub"]["total"]) == 0 and rows["stub"]["status"] == "ok"
    assert feedback["stub"].count("NotImplementedError") == 8


@pytest.mark.parametrize("student", sorted(MISTAKES))
def test_a_typical_mistake_costs_the_tests_it_breaks_and_says_why(graded, student):
    rows, feedback = graded
    _, lost, words = MISTAKES[student]
    row = rows[student]
    assert int(row["total"]) == FULL - sum(lost.values()), feedback[student]
    for grade_id, points in lost.items():
        assert row[grade_id] == "0", _line(feedback[student], grade_id)
    first = _line(feedback[student], next(iter(lost)))
    assert "[FAIL]" in first and "Hint:" in first
    for word in words:
        assert word in first, first
    assert row["status"] == "ok"


def test_the_code_the_grader_runs_needs_only_numpy():
    """Keras appears only in test cells, which the grader never runs (there or in the sandbox)."""
    master = load("master", A2)
    cells = notebook.extract_code(master, notebook.graded_tests(master)).cells
    assert len(cells) == 8
    imports = [line.strip() for _, text in cells for line in text.splitlines()
               if line.strip().startswith(("import ", "from "))]
    assert imports == ["import numpy as np"]


def test_master_notebook_runs_top_to_bottom_and_matches_keras():
    raised = run_cells(load("master", A2))
    assert not any(raised.values()), {k: repr(e) for k, e in raised.items() if e}
    assert "test_conv_pool_keras" in raised


def test_released_notebook_runs_and_every_test_cell_stops_at_a_stub():
    raised = run_cells(load("released", A2))
    tests = {t.grade_id for t in notebook.graded_tests(load("master", A2))}
    assert all(raised[k] is None for k in raised if k not in tests), raised
    assert all(isinstance(raised[k], NotImplementedError) for k in tests), {k: repr(raised[k]) for k in tests}


def test_locked_helpers_run_as_released(graded):
    scores, feedback = graded
    assert scores["helper_rewritten"]["test_numerical_gradient"] == "0"
    assert "locked cell gradient_helpers was modified; the original was used" in feedback["helper_rewritten"]
    assert scores["helper_deleted"]["total"] == str(FULL)
    assert "locked cell gradient_helpers was deleted; the original was used" in feedback["helper_deleted"]


@pytest.mark.parametrize("student", sorted(REDEFINITIONS))
def test_the_hidden_tests_call_what_the_test_cell_saw(graded, student):
    rows, feedback = graded
    assert int(rows["stubbed_gradient"]["total"]) == FULL - 2, feedback["stubbed_gradient"]
    assert rows[student]["test_numerical_gradient"] == "0", feedback[student]
    assert int(rows[student]["total"]) == FULL - 2, feedback[student]
    if student == "redefined_before_moved_test":  # the test's calls ran after the redefinition
        assert "gradient_examples was redefined after its locked cell; the hidden tests called the locked version" \
            in feedback[student]
