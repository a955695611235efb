"""A4 · Recurrent nets by hand, graded: the master scores full marks, the release an honest zero
(and runs), each typical mistake costs the tests it breaks with a feedback line that says what to
look at, and the trained model is judged from the file the notebook saved. The master also runs
from top to bottom as a notebook, its Keras comparison included."""

import copy
import json

import numpy as np
import pytest

from course_lib.grading import grader, notebook
from tests.grading.conftest import ASSIGNMENTS, add_cell, cell_index, load, read_csv, run_cells, set_source, write

A4 = "a4_rnn"
FULL = 30
SPEC = grader._load_spec(ASSIGNMENTS / "source" / A4 / "grading.py")


def master() -> dict:
    return load("master", A4)


def source(nb: dict, grade_id: str) -> str:
    return "".join(nb["cells"][cell_index(nb, grade_id)]["source"])


def replace_in(nb: dict, grade_id: str, old: str, new: str) -> dict:
    text = source(nb, grade_id)
    assert old in text, f"{old!r} is not in the master's cell {grade_id}"
    return set_source(nb, grade_id, text.replace(old, new))


# The LSTM with its gates in another order (input, forget, output, candidate), forward and backward
# consistent: it learns as well, but it is not the LSTM of Keras' layout, which the saved model must follow.
GATES_SWAPPED = [
    ("g, o = np.tanh(a[:, 2 * hidden:3 * hidden]), sigmoid(a[:, 3 * hidden:])",
     "o, g = sigmoid(a[:, 2 * hidden:3 * hidden]), np.tanh(a[:, 3 * hidden:])"),
    ("da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g ** 2), do * o * (1 - o)], axis=1)",
     "da = np.concatenate([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g ** 2)], axis=1)"),
]


def _gates_swapped():
    nb = master()
    for old, new in GATES_SWAPPED:
        nb = replace_in(nb, "lstm_step", old, new)
    return nb


# student: (notebook, {test: points lost}, words the first failing test's feedback contains)
MISTAKES = {
    "truncated_bptt": (lambda: replace_in(master(), "rnn_sequence", "rnn_step_backward(dh[:, t] + dh_prev, cache[t])",
                                          "rnn_step_backward(dh[:, t], cache[t])"),
                       {"test_rnn_backward": 3}, ["dx differs", "dh_prev of step t + 1"]),
    "gates_swapped": (_gates_swapped,
                      {"test_lstm_step_forward": 3, "test_lstm_step_backward": 4, "test_lstm_forward": 2,
                       "test_lstm_backward": 3, "test_model_loss": 3, "test_trained_model": 5},
                      ["h differs", "input (sigmoid), forget (sigmoid), candidate (tanh), output"]),
    "half_gradient": (lambda: replace_in(master(), "model_loss", "dprediction = (2 * error / n)[:, None]",
                                         "dprediction = (error / n)[:, None]"),
                      {"test_model_loss": 3}, ["differs", "2 * (prediction - y) / N"]),
    "untrained": (lambda: replace_in(master(), "train", "HIDDEN, STEPS, BATCH = 8, 300, 32", "HIDDEN, STEPS, BATCH = 8, 3, 32"),
                  {"test_trained_model": 5}, ["hidden windows is", "above 0.015"]),
    "too_wide": (lambda: replace_in(master(), "train", "HIDDEN, STEPS, BATCH = 8, 300, 32", "HIDDEN, STEPS, BATCH = 65, 1, 32"),
                 {"test_trained_model": 5}, ["65 hidden units; at most 64"]),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("a4_subs")
    submissions = {"master": master(), "released": load("released", A4),
                   "pickled_model": add_cell(master(), "import pickle\nwith open(MODEL_FILE, 'wb') as f:\n"
                                                       "    pickle.dump(params, f)\n",
                                             at=cell_index(master(), "save") + 1),
                   **{student: make() for student, (make, _, _) in MISTAKES.items()}}
    for i, (student, nb) in enumerate(submissions.items()):
        write(folder, student, nb, as_folder=i % 2 == 0, name=A4)
    out = tmp_path_factory.mktemp("a4_out") / "grades.csv"
    report = grader.grade(A4, folder, out, jobs=2, root=ASSIGNMENTS)
    feedback = {o.student: (report.feedback_dir / f"{o.key}.md").read_text() for o in report.outcomes}
    return read_csv(out), feedback


def _line(feedback: str, grade_id: str) -> str:
    lines = feedback.splitlines()
    start = next(i for i, line in enumerate(lines) if f"] {grade_id} (" in line)
    return "\n".join(lines[start:start + 2])


def test_master_scores_full_marks_and_its_model_beats_the_target(graded):
    rows, feedback = graded
    assert int(rows["master"]["total"]) == FULL and rows["master"]["status"] == "ok", feedback["master"]
    assert "MSE 0.0" in _line(feedback["master"], "test_trained_model")


def test_released_notebook_scores_an_honest_zero(graded):
    rows, feedback = graded
    assert int(rows["released"]["total"]) == 0 and rows["released"]["status"] == "cell errors", feedback["released"]
    assert feedback["released"].count("NotImplementedError") >= 9
    assert "above 0.015" in _line(feedback["released"], "test_trained_model")  # an untrained model, saved


@pytest.mark.parametrize("student", sorted(MISTAKES))
def test_a_typical_mistake_costs_the_tests_it_breaks_and_says_why(graded, student):
    rows, feedback = graded
    _, lost, words = MISTAKES[student]
    row = rows[student]
    assert int(row["total"]) == FULL - sum(lost.values()), feedback[student]
    for grade_id in lost:
        assert row[grade_id] == "0", _line(feedback[student], grade_id)
    first = _line(feedback[student], next(iter(lost)))
    for word in words:
        assert word in first, first


def test_a_pickled_model_file_is_not_unpickled(graded):
    rows, feedback = graded
    assert rows["pickled_model"]["test_trained_model"] == "0"
    assert int(rows["pickled_model"]["total"]) == FULL - 5
    assert "a4_model.npz cannot be read: not an .npz file" in feedback["pickled_model"]


def test_the_spec_draws_windows_as_the_notebook_does_and_states_its_numbers():
    namespace = {}
    exec(source(master(), "setup") + "\n" + source(master(), "helpers"), namespace)
    for n, seed in [(5, 0), (3, 17)]:
        mine, theirs = namespace["make_sine_windows"](n, seed=seed), SPEC.sine_windows(n, seed=seed)
        assert all(np.array_equal(a, b) for a, b in zip(mine, theirs))
    assert (namespace["MODEL_FILE"], namespace["MAX_HIDDEN"], namespace["TARGET_MSE"]) == \
        (SPEC.MODEL_FILE, SPEC.MAX_HIDDEN, SPEC.TARGET_MSE)


def test_the_graders_forward_pass_is_the_masters():
    namespace = {"__name__": "__main__"}
    nb = master()
    for grade_id in ("setup", "helpers", "grader_helpers", "lstm_step", "lstm_sequence", "training_helpers"):
        exec(source(nb, grade_id), namespace)
    params = namespace["init_params"](5, seed=3)
    x = np.random.default_rng(0).normal(size=(4, 6, 1))
    h = namespace["lstm_output"](x, np.zeros((4, 5)), params["Wi"], params["Wr"], params["b"])
    assert np.allclose(SPEC.predict(params, x), (h[:, -1] @ params["Wy"] + params["by"])[:, 0])


def test_master_notebook_runs_top_to_bottom_with_its_visible_tests(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    raised = run_cells(master())
    assert not any(raised.values()), {k: repr(e) for k, e in raised.items() if e}
    assert (tmp_path / SPEC.MODEL_FILE).is_file()


def test_released_notebook_runs_and_every_test_cell_stops_at_a_stub(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    released = load("released", A4)
    raised = run_cells(released)
    tests = {t.grade_id for t in notebook.graded_tests(master())}
    # the training loop is a stub at the top level; the saving cell then saves the untrained model and stops
    assert all(raised[k] is None for k in raised if k not in tests | {"train", "save"}), raised
    assert isinstance(raised["train"], NotImplementedError) and (tmp_path / SPEC.MODEL_FILE).is_file()
    assert all(isinstance(raised[k], (NotImplementedError, NameError)) for k in tests if k != "test_trained_model"), \
        {k: repr(raised[k]) for k in tests}
    json.dumps(released)
    assert copy.deepcopy(released) == released
