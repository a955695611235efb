"""A3 · Train a ResNet, graded in the smoke profile: the real pipeline (a Keras sandbox that trains,
a second sandbox that evaluates the saved file, verdicts computed here), with hostile submissions.

One grading run (two at a time) serves most tests; TensorFlow starts in each worker, so the run
takes a few minutes on two cores. The time budget is enforced on a slow notebook graded apart with
a short budget. The sandbox's data binding is checked without TensorFlow.
"""

import argparse
import json
import os
import pathlib
import time

import numpy as np
import pytest

from course_lib.grading import cli, datasets, grader, model_checks, sandbox, saved_model
from tests.grading.conftest import (ASSIGNMENTS, PROBE, add_cell, cell_index, load, needs_namespaces, read_csv,
                                    set_source, write)

A3 = "a3_resnet"
FULL = 16
SPEC = grader._load_spec(ASSIGNMENTS / "source" / A3 / "grading.py")


def master() -> dict:
    return load("master", A3)


def source(nb: dict, grade_id: str) -> str:
    return "".join(nb["cells"][cell_index(nb, grade_id)]["source"])


def replace_in(nb: dict, grade_id: str, old: str, new: str) -> dict:
    text = source(nb, grade_id)
    assert old in text, f"{old!r} is not in the master's cell {grade_id}"
    return set_source(nb, grade_id, text.replace(old, new))


OUTPUT_LINE = 'outputs = layers.Dense(num_classes, activation="softmax")(x)'
# A wide hidden layer before the classifier: about 310,000 parameters more, little computation.
OVER_BUDGET_HEAD = 'x = layers.Dense(4096, activation="relu")(x)\n    ' + OUTPUT_LINE
RELU_LINE = 'y = layers.Activation("relu")(y)\n'
LAMBDA_LINE = "    y = layers.Lambda(lambda t: t * 1.0)(y)\n"
PATCHES = """
import keras
import numpy as np
import course_lib.grading.model_checks as checks
keras.Model.count_params = lambda self: 1000
checks.parameter_count = lambda model: 1000
keras.Model.predict = lambda self, x, **kwargs: np.eye(10, dtype="float32")[np.zeros(len(x), int)]
keras.saving.load_model = lambda *args, **kwargs: None
print("parameters: 1000, accuracy: 100%")
"""


# A custom layer that runs code when the file is loaded: it looks for the hidden labels.
PEEK = """
@keras.saving.register_keras_serializable(package="mine")
class Peek(layers.Layer):
    def call(self, x):
        return x

    @classmethod
    def from_config(cls, config):
        import glob
        open("peeked.txt", "w").write(str(glob.glob("/data/**", recursive=True) + glob.glob("/usr/share/datasets/**")))
        return cls(**config)


"""
# What replaces the saved file after the locked save cell: a link, a FIFO, a sparse 40 MB file.
REPLACE_FILE = {
    "model_link": "os.remove(MODEL_FILE)\nos.symlink('/dev/zero', MODEL_FILE)\n",
    "model_fifo": "os.remove(MODEL_FILE)\nos.mkfifo(MODEL_FILE)\n",
    "model_huge": "with open(MODEL_FILE, 'ab') as f:\n    f.truncate(40 * 2**20)\n",
}
FILE_MESSAGES = {"model_link": "cannot be read (Too many levels of symbolic links); it should be a plain file",
                 "model_fifo": "is not a plain file", "model_huge": "is larger than 32 MB"}


def submissions() -> dict:
    nb = master()
    # Only the master trains: for the others training would cost time and prove nothing.
    untrained = "model = build_resnet()\n"
    over = set_source(replace_in(nb, "build_resnet", OUTPUT_LINE, OVER_BUDGET_HEAD), "train", untrained)
    return {
        "master": nb,
        "released": load("released", A3),
        "over_budget": over,
        "over_budget_patched": add_cell(over, PATCHES, at=cell_index(over, "save")),
        "lambda": set_source(replace_in(nb, "residual_block", RELU_LINE, RELU_LINE + LAMBDA_LINE), "train", untrained),
        "custom_class": set_source(set_source(nb, "build_resnet", PEEK + source(nb, "build_resnet").replace(
            OUTPUT_LINE, "x = Peek()(x)\n    " + OUTPUT_LINE)), "train", untrained),
        **{student: add_cell(set_source(nb, "train", untrained), code, at=cell_index(nb, "save") + 1)
           for student, code in REPLACE_FILE.items()},
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("subs")
    for i, (student, nb) in enumerate(submissions().items()):
        write(folder, student, nb, as_folder=i % 2 == 0, name=A3)
    out = tmp_path_factory.mktemp("out") / "grades.csv"
    start = time.monotonic()
    # The spec's smoke budget (90 s) is a wall-clock budget: on 2 cores that other work keeps busy the
    # master can need more. These tests check verdicts, so the honest batch gets room; the budget
    # itself is enforced on the slow submission, graded apart with a short one.
    report = grader.grade(A3, folder, out, jobs=2, root=ASSIGNMENTS, profile="smoke",
                          limit_overrides={"load_seconds": ROOMY_SECONDS})
    seconds = time.monotonic() - start
    feedback = {p.stem: p.read_text() for p in report.feedback_dir.glob("*.md")}
    return read_csv(out), feedback, seconds


ROOMY_SECONDS = 900
SHORT_SECONDS = 20


@pytest.fixture(scope="module")
def slow_graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slow_subs")
    write(folder, "slow", replace_in(master(), "train", "EPOCHS = cfg.pick(smoke=1,", "EPOCHS = cfg.pick(smoke=10_000,"),
          name=A3)
    out = tmp_path_factory.mktemp("slow_out") / "grades.csv"
    report = grader.grade(A3, folder, out, jobs=2, root=ASSIGNMENTS, profile="smoke",
                          limit_overrides={"load_seconds": SHORT_SECONDS})
    feedback = {p.stem: p.read_text() for p in report.feedback_dir.glob("*.md")}
    return read_csv(out), feedback


def test_master_scores_full_marks_in_smoke(graded):
    rows, feedback, seconds = graded
    assert sorted(rows) == sorted(submissions())
    assert int(rows["master"]["total"]) == FULL and rows["master"]["status"] == "ok", feedback["master"]
    assert "Profile: smoke" in feedback["master"]
    assert "parameters)" in feedback["master"] and "on 1,000 images" in feedback["master"]
    assert seconds < 600  # some 150 s on 2 cores; slower when other work loads them


def test_released_notebook_scores_zero_and_says_no_model_was_saved(graded):
    rows, feedback, _ = graded
    assert int(rows["released"]["total"]) == 0
    assert "NotImplementedError" in feedback["released"]
    assert "there is no file a3_model.keras in the notebook's folder" in feedback["released"]


def test_over_the_parameter_budget_fails_that_test_with_the_count_and_the_budget(graded):
    rows, feedback, _ = graded
    row = rows["over_budget"]
    assert row["test_parameter_budget"] == "0", feedback["over_budget"]
    assert row["test_residual_block"] == "3" and row["test_build_resnet"] == "2", feedback["over_budget"]
    message = next(line for line in feedback["over_budget"].splitlines() if "over the budget" in line)
    assert "over the budget of 300,000" in message
    count = int(message.split("has ")[1].split(" parameters")[0].replace(",", ""))
    assert 350_000 < count < 450_000, message


def test_monkeypatching_keras_in_the_students_process_changes_nothing(graded):
    rows, feedback, _ = graded
    plain, patched = rows["over_budget"], rows["over_budget_patched"]
    assert patched["test_parameter_budget"] == "0"
    assert [patched[k] for k in ("test_residual_block", "test_build_resnet", "test_parameter_budget")] == \
        [plain[k] for k in ("test_residual_block", "test_build_resnet", "test_parameter_budget")]
    budget = [line for line in feedback["over_budget_patched"].splitlines() if "over the budget" in line]
    assert budget and budget == [line for line in feedback["over_budget"].splitlines() if "over the budget" in line]
    assert "1,000 parameters" not in feedback["over_budget_patched"]


def test_a_lambda_layer_is_refused_by_safe_mode(graded):
    rows, feedback, _ = graded
    assert int(rows["lambda"]["total"]) == 0, feedback["lambda"]
    assert "the model uses a Lambda layer" in feedback["lambda"] and "safe_mode=True" in feedback["lambda"]


def test_a_custom_class_that_runs_code_at_load_is_refused_before_loading(graded):
    rows, feedback, _ = graded
    assert int(rows["custom_class"]["total"]) == 0, feedback["custom_class"]
    assert "'Peek' (registered as 'mine>Peek')" in feedback["custom_class"]


@pytest.mark.parametrize("student", sorted(REPLACE_FILE))
def test_a_model_file_that_is_a_link_a_fifo_or_huge_is_refused(graded, student):
    rows, feedback, _ = graded
    assert int(rows[student]["total"]) == 0, feedback[student]
    assert FILE_MESSAGES[student] in feedback[student], feedback[student]
    assert int(rows["master"]["total"]) == FULL


def test_training_past_the_time_budget_is_stopped(slow_graded):
    rows, feedback = slow_graded
    assert int(rows["slow"]["total"]) == 0 and "time limit" in rows["slow"]["status"], feedback["slow"]
    assert f"time limit: stopped after {SHORT_SECONDS} s (while running your code cells)" in feedback["slow"]


def test_feedback_says_which_data_the_notebook_and_the_hidden_test_used(graded):
    _, feedback, _ = graded
    assert "Data: course_lib's substitute for Fashion-MNIST (the smoke profile always uses it)" in feedback["master"]


# --- without TensorFlow: the sandbox's data, the data plan, the model-file checks, the spec ---

def fake_fashion_folder(folder):
    """Four files named like Fashion-MNIST's, to bind where the real data set is missing."""
    folder.mkdir(parents=True)
    for stem in datasets.SPLIT_FILES["fashion_mnist"]["train"] + datasets.SPLIT_FILES["fashion_mnist"]["test"]:
        (folder / f"{stem}.gz").write_bytes(stem.encode())
    return folder


@needs_namespaces
def test_a_submission_sees_the_training_files_only_and_no_system_data(tmp_path):
    setting = grader.load_assignment(A3, ASSIGNMENTS, profile="cpu").setting
    box, plan = setting.sandbox, setting.data["fashion_mnist"]
    if plan.kind == "real":
        test_files = [str(p) for stem, p in plan.location.items() if stem.startswith("t10k")]
    else:  # no real copy on this machine: bind a fake folder the way a real one would be bound
        fake = fake_fashion_folder(tmp_path / "fashion-mnist")
        box = sandbox.Sandbox(keras=True, threads=2, profile="cpu",
                              files={f"fashion-mnist/{s}.gz": str(fake / f"{s}.gz")
                                     for s in datasets.SPLIT_FILES["fashion_mnist"]["train"]})
        test_files = [str(p) for p in fake.glob("t10k*")]
    shown = sorted(pathlib.PurePosixPath(inside).name for inside in box.files)
    test_stems = datasets.SPLIT_FILES["fashion_mnist"]["test"]
    calls = [("listdir", ("/data/fashion-mnist",), {}), ("read", (f"/data/fashion-mnist/{shown[1]}",), {}),
             ("listdir", ("/usr/share/datasets",), {}), ("environment", ("COURSE_DATA_DIR",), {}),
             ("listdir", ("/opt/course",), {}), ("listdir", ("/proc",), {})]
    calls += [("read", (path,), {}) for path in test_files]
    calls += [("read", (f"/data/fashion-mnist/{stem}{end}",), {}) for stem in test_stems for end in ("", ".gz")]
    run = sandbox.run_submission([(0, PROBE)], calls, use_namespaces=True, sandbox=box)
    values = [run.results[k].value for k in range(len(calls))]
    assert values[0] == "READ " + ",".join(shown) and "train-labels" in shown[1], values
    assert values[1].startswith("READ "), values
    assert values[2] in ("READ ", "ERR FileNotFoundError"), values  # /usr/share/datasets: empty (or not there)
    assert values[3] == "/data" and values[4] == "READ course_lib", values
    pids = [entry for entry in values[5].removeprefix("READ ").split(",") if entry.isdigit()]
    assert 1 <= len(pids) <= 3 and str(os.getpid()) not in pids, values[5]  # a proc of the sandbox's PID namespace
    assert all(v.startswith("ERR") for v in values[6:]) and len(values) == 6 + len(test_files) + 4, values


@needs_namespaces
def test_the_evaluation_sandbox_sees_no_data_and_no_labels():
    """A model file that reads labels at load or predict time finds none where it is evaluated."""
    box = saved_model.Evaluator(np.zeros((1, 28, 28), np.uint8),
                                grader.load_assignment(A3, ASSIGNMENTS, profile="cpu").setting).box
    calls = [("listdir", ("/data",), {}), ("environment", ("COURSE_DATA_DIR",), {}),
             ("listdir", ("/usr/share/datasets",), {}), ("listdir", ("/work",), {})]
    run = sandbox.run_submission([(0, PROBE)], calls, use_namespaces=True, sandbox=box)
    values = [run.results[k].value for k in range(len(calls))]
    assert values[0] == "ERR FileNotFoundError" and values[1] == "", values
    assert values[2] in ("READ ", "ERR FileNotFoundError") and "worker.py" in values[3], values
    assert "fashion" not in values[3] and "t10k" not in values[3], values


@needs_namespaces
def test_system_data_folders_are_hidden_in_every_sandbox():
    binds, _ = sandbox._binds_and_links()
    hidden = sandbox.hidden_dirs(binds)
    for folder in ("/usr/share/datasets", "/usr/local/share/datasets"):
        if os.path.isdir(folder):
            assert os.path.realpath(folder) in hidden


def test_the_data_plan_binds_training_files_only_and_smoke_uses_the_substitute():
    smoke = datasets.plan({"fashion_mnist": "train"}, "smoke")["fashion_mnist"]
    assert smoke.kind == "substitute" and smoke.files == {}
    cpu = datasets.plan({"fashion_mnist": "train"}, "cpu")["fashion_mnist"]
    if cpu.kind == "real":
        names = [name.removesuffix(".gz") for name in sorted(cpu.files)]
        assert names == ["fashion-mnist/train-images-idx3-ubyte", "fashion-mnist/train-labels-idx1-ubyte"]
        assert all("t10k" not in path for path in cpu.files.values())
    with pytest.raises(datasets.DataPlanError, match="training split only"):
        datasets.plan({"fashion_mnist": "test"}, "cpu")
    with pytest.raises(datasets.DataPlanError, match="not 'mnist'"):
        datasets.plan({"mnist": "train"}, "cpu")


def test_a_folder_with_the_training_files_only_is_found_for_the_training_split(tmp_path, monkeypatch):
    """What the sandbox's /data/fashion-mnist looks like: `load(..., "train")` must find it, "test" must not."""
    from course_lib.data import real

    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for stem in datasets.SPLIT_FILES["fashion_mnist"]["train"]:
        (folder / f"{stem}.gz").write_bytes(b"")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    found = real.find("fashion_mnist", "train")
    assert sorted(found) == sorted(datasets.SPLIT_FILES["fashion_mnist"]["train"])
    assert all(path.parent == folder for path in found.values())
    for split in ("test", None):
        elsewhere = real.find("fashion_mnist", split)
        assert elsewhere is None or all(path.parent != folder for path in elsewhere.values())


def test_the_hidden_substitute_test_set_is_not_the_one_a_notebook_draws():
    from course_lib import data

    plan = datasets.plan({"fashion_mnist": "train"}, "smoke")["fashion_mnist"]
    x, y = datasets.hidden_test(plan, "smoke", SPEC.SEED, 1000)
    assert x.shape == (1000, 28, 28) and x.dtype == np.uint8 and sorted(set(y.tolist())) == list(range(10))
    drawn = data.load("fashion_mnist", "test", profile="smoke", n=1000)
    assert not np.array_equal(x, drawn.x)
    again, _ = datasets.hidden_test(plan, "smoke", SPEC.SEED, 1000)
    assert np.array_equal(x, again)  # re-grading scores the same images


def _config(layer_class, module="keras.layers", registered=None, **config):
    layer = {"module": module, "class_name": layer_class, "config": config, "registered_name": registered}
    return {"module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional",
            "config": {"layers": [{"module": "keras.layers", "class_name": "InputLayer", "config": {},
                                   "registered_name": None}, layer]}}


@pytest.mark.parametrize("config, message", [
    (_config("Lambda", function={"class_name": "__lambda__", "config": {"code": "..."}}), "Lambda layer"),
    (_config("TFSMLayer", filepath="/work/x"), "TFSMLayer layer"),
    (_config("Double", module=None, registered="mine>Double"), "'Double' (registered as 'mine>Double')"),
    (_config("Conv2D", module="builtins"), "not a built-in Keras class"),
    (_config("Conv2D", registered="keras.layers>Conv2D"), "not a built-in Keras class"),
])
def test_model_files_naming_code_or_custom_classes_are_refused_before_loading(config, message):
    with pytest.raises(model_checks.ModelFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        model_checks.check_builtin_config(config)
    model_checks.check_builtin_config(_config("Conv2D", filters=16))


def test_a_file_that_is_no_keras_archive_gets_a_clear_message():
    with pytest.raises(model_checks.ModelFileError, match="not a .keras archive"):
        model_checks.read_config(b"not a zip")
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model.weights.h5", b"")
    with pytest.raises(model_checks.ModelFileError, match="no config.json"):
        model_checks.read_config(buffer.getvalue())


def test_the_notebook_states_the_specs_budgets():
    setup = source(master(), "setup")
    smoke, cpu = SPEC.BUDGETS["smoke"], SPEC.BUDGETS["cpu"]
    accuracy = f"smoke={smoke['accuracy']:.2f}, cpu={cpu['accuracy']:.2f}, gpu={cpu['accuracy']:.2f}"
    for line in (f'MODEL_FILE = "{SPEC.MODEL_FILE}"', f"MAX_PARAMETERS = {SPEC.MAX_PARAMETERS:_}",
                 f"MIN_RESIDUAL = {SPEC.MIN_RESIDUAL}", f"TARGET_ACCURACY = cfg.pick({accuracy})",
                 f"TIME_BUDGET = cfg.pick(smoke={smoke['seconds']}, cpu={cpu['seconds']}, gpu={cpu['seconds']})"):
        assert line in setup, line
    intro = "".join(master()["cells"][0]["source"])
    assert f"{SPEC.MAX_PARAMETERS:,} parameters" in intro and f"{cpu['seconds'] // 60} minutes" in intro


def test_the_gpu_profile_is_refused_with_a_reason(tmp_path, capsys):
    with pytest.raises(grader.AssignmentError, match="no GPU"):
        grader.load_assignment(A3, ASSIGNMENTS, profile="gpu")
    parser = argparse.ArgumentParser(prog="course")
    cli.add_subcommands(parser.add_subparsers(dest="command"))
    (tmp_path / "subs").mkdir()
    args = parser.parse_args(["grade", A3, str(tmp_path / "subs"), "--out", str(tmp_path / "g.csv"),
                              "--assignments", str(ASSIGNMENTS), "--profile", "gpu"])
    assert args.func(args) == 2 and "not 'gpu'" in capsys.readouterr().err


def test_the_master_notebook_is_valid_and_its_release_keeps_the_locked_cells():
    nb, released = master(), load("released", A3)
    assert [c["metadata"].get("nbgrader", {}).get("grade_id") for c in nb["cells"]] == \
        [c["metadata"].get("nbgrader", {}).get("grade_id") for c in released["cells"]]
    for grade_id in ("setup", "data", "save"):
        assert source(nb, grade_id) == source(released, grade_id)
    json.dumps(nb)


# --- with Keras in this process: what counts as a residual connection ---

def test_residual_connections_count_identity_and_projection_shortcuts_not_parallel_branches():
    keras = pytest.importorskip("keras")
    layers = keras.layers
    inputs = keras.Input((8, 8, 4))
    identity = layers.Add()([inputs, layers.Conv2D(4, 3, padding="same")(layers.Conv2D(4, 3, padding="same")(inputs))])
    main = layers.Conv2D(8, 3, padding="same")(layers.Conv2D(8, 3, strides=2, padding="same")(identity))
    projection = layers.Add()([main, layers.Conv2D(8, 1, strides=2)(identity)])
    parallel = layers.Add()([layers.Conv2D(8, 3, padding="same")(projection),
                             layers.Conv2D(8, 5, padding="same")(projection)])
    no_conv = layers.Add()([parallel, layers.Activation("relu")(parallel)])
    model = keras.Model(inputs, no_conv)
    shortcuts = [identity._keras_history[0].name, projection._keras_history[0].name]
    assert model_checks.residual_connections(model) == shortcuts
    assert model_checks.parameter_count(model) == model.count_params()
    plain = keras.Sequential([keras.Input((8, 8, 4)), layers.Conv2D(4, 3)])
    assert model_checks.residual_connections(plain) == []


def test_master_notebook_runs_top_to_bottom_with_its_visible_tests(tmp_path, monkeypatch):
    """As "Restart & Run All" in the smoke profile: the visible test cells, which the grader never runs, pass."""
    import contextlib
    import io

    from course_lib.grading import notebook

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    namespace = {"__name__": "__main__"}
    for index, cell in enumerate(master()["cells"]):
        if cell["cell_type"] == "code":
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(notebook.cell_source(cell), f"<{A3} cell {index}>", "exec"), namespace)
    assert (tmp_path / SPEC.MODEL_FILE).is_file()
    assert namespace["val_accuracy"] >= SPEC.BUDGETS["smoke"]["accuracy"]
