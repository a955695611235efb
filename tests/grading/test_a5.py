"""A5 · Generative models, graded: the master scores full marks, the release an honest zero (and
runs), each typical mistake costs the tests it breaks with a feedback line that says what to look
at: Gatys et al.'s normalisation where the lecture's is graded, a log of a sigmoid that overflows,
a total variation gradient with one end missing, the minimax loss in the GAN step."""

import pytest

from course_lib.grading import grader, notebook
from tests.grading.conftest import ASSIGNMENTS, LIMITS, cell_index, load, read_csv, run_cells, set_source, write

A5 = "a5_generative"
FULL = 25


def master() -> dict:
    return load("master", A5)


def replace_in(nb: dict, grade_id: str, old: str, new: str) -> dict:
    text = "".join(nb["cells"][cell_index(nb, grade_id)]["source"])
    assert old in text, f"{old!r} is not in the master's cell {grade_id}"
    return set_source(nb, grade_id, text.replace(old, new))


NAIVE_LOGS = [
    ("loss = float(np.mean(np.logaddexp(0, -logits_real)) + np.mean(np.logaddexp(0, logits_fake)))",
     "loss = float(-np.mean(np.log(sigmoid(logits_real))) - np.mean(np.log(1 - sigmoid(logits_fake))))"),
    ("loss = -float(np.mean(np.logaddexp(0, logits_fake)))", "loss = float(np.mean(np.log(1 - sigmoid(logits_fake))))"),
    ("loss = float(np.mean(np.logaddexp(0, -logits_fake)))", "loss = float(-np.mean(np.log(sigmoid(logits_fake))))"),
]


def _naive_logs():
    nb = master()
    for old, new in NAIVE_LOGS:
        nb = replace_in(nb, "gan_losses", old, new)
    return nb


# student: (notebook, {test: points lost}, words the first failing test's feedback contains)
MISTAKES = {
    "gatys_normalisation": (
        lambda: replace_in(replace_in(master(), "style_loss", "/ (n ** 2 * m ** 2)\n", "/ (4 * n ** 2 * m ** 2)\n"),
                           "style_loss", "grads.append(4 * D @ Fx / (n ** 2 * m ** 2))",
                           "grads.append(D @ Fx / (n ** 2 * m ** 2))"),
        {"test_style_loss": 3, "test_style_loss_gradient": 3}, ["loss differs", "the lecture's normalisation (no 4)"]),
    "naive_logs": (_naive_logs, {"test_discriminator_loss": 3, "test_generator_loss_minimax": 2},
                   ["loss", "softplus"]),
    "tv_one_end": (lambda: replace_in(master(), "content_and_tv", "    dx[:, :-1] -= 2 * right\n", ""),
                   {"test_total_variation": 3}, ["dx differs", "-2d at the other"]),
    "minimax_in_step": (lambda: replace_in(master(), "gan_step", "g_loss, d_fake = generator_loss_nonsaturating(logit(fake))",
                                           "g_loss, d_fake = generator_loss_minimax(logit(fake))"),
                        # the minimax loss trains this tiny GAN too: only the step itself is wrong
                        {"test_gan_step": 3}, ["differs", "non-saturating loss"]),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("a5_subs")
    submissions = {"master": master(), "released": load("released", A5),
                   **{student: make() for student, (make, _, _) in MISTAKES.items()}}
    for i, (student, nb) in enumerate(submissions.items()):
        write(folder, student, nb, as_folder=i % 2 == 0, name=A5)
    out = tmp_path_factory.mktemp("a5_out") / "grades.csv"
    report = grader.grade(A5, folder, out, jobs=2, root=ASSIGNMENTS, limits=LIMITS)
    feedback = {o.student: (report.feedback_dir / f"{o.key}.md").read_text() for o in report.outcomes}
    return read_csv(out), feedback


def _line(feedback: str, grade_id: str) -> str:
    lines = feedback.splitlines()
    start = next(i for i, line in enumerate(lines) if f"] {grade_id} (" in line)
    return "\n".join(lines[start:start + 2])


def test_master_scores_full_marks(graded):
    rows, feedback = graded
    assert int(rows["master"]["total"]) == FULL and rows["master"]["status"] == "ok", feedback["master"]
    assert "generated mean 3.0" in _line(feedback["master"], "test_gan_training")


def test_released_notebook_scores_an_honest_zero(graded):
    rows, feedback = graded
    assert int(rows["released"]["total"]) == 0 and rows["released"]["status"] == "ok", feedback["released"]
    assert feedback["released"].count("NotImplementedError") == len(notebook.graded_tests(master()))


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


def test_master_notebook_runs_top_to_bottom_with_its_visible_tests():
    raised = run_cells(master())
    assert not any(raised.values()), {k: repr(e) for k, e in raised.items() if e}


def test_released_notebook_runs_and_every_test_cell_stops_at_a_stub():
    raised = run_cells(load("released", A5))
    tests = {t.grade_id for t in notebook.graded_tests(master())}
    assert all(raised[k] is None for k in raised if k not in tests), raised
    assert all(isinstance(raised[k], NotImplementedError) for k in tests), {k: repr(raised[k]) for k in tests}
