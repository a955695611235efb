"""Grader spec of A3 · Train a ResNet: every graded test judges the model file the notebook saved.

The notebook runs in a Keras sandbox that sees only the training files of Fashion-MNIST. One
hidden call brings back the bytes of a3_model.keras; a second sandbox, running only the
course's `model_checks.evaluate_file`, loads them with safe_mode=True and returns the
parameter count, the residual connections and the outputs on the hidden test images. The
labels stay in the grading process, where the four comparators below run. The master
solution is never run here: no test compares with its results.

Budgets per profile (``course grade a3_resnet SUBS --profile smoke|cpu``); the notebook's setup
cell states the same numbers, and tests/grading/test_a3.py checks that they agree.
"""

from course_lib.grading import datasets, saved_model
from course_lib.grading.spec import Limits, Sandbox, Test

SEED = 20241105
MODEL_FILE = "a3_model.keras"
MAX_PARAMETERS = 300_000
MIN_RESIDUAL = 3
PROFILES = ("smoke", "cpu")  # the sandbox has no GPU: a gpu-profile notebook would train on the CPU

# accuracy: on the hidden test set; seconds: the whole notebook (its code cells, importing
# TensorFlow included) on the grading machine, 2 CPU cores; substitute_test: test images drawn
# when the real data set is not on the grading machine (the smoke profile always draws them).
BUDGETS = {
    "smoke": {"accuracy": 0.80, "seconds": 90, "substitute_test": 1000},
    "cpu": {"accuracy": 0.90, "seconds": 900, "substitute_test": 2000},
}


def sandbox(profile):
    seconds = BUDGETS[profile]["seconds"]
    return Sandbox(keras=True, data={"fashion_mnist": "train"}, threads=2,
                   limits=Limits(load_seconds=seconds, call_seconds=30, memory_bytes=8 * 2**30, processes=128,
                                 file_bytes=64 * 2**20))


def tests(setting):
    budget = BUDGETS[setting.profile]
    data = setting.data["fashion_mnist"]
    x_test, y_test = datasets.hidden_test(data, setting.profile, SEED, budget["substitute_test"])
    evaluate = saved_model.Evaluator(x_test, setting)

    def calls(rng):
        return saved_model.read_model(MODEL_FILE, evaluate, labels=y_test)

    what = "hidden Fashion-MNIST test set" if data.kind == "real" else "hidden substitute test set"
    return {
        "test_residual_block": Test(calls, saved_model.residual_connections(MIN_RESIDUAL),
                                    f"the saved model has at least {MIN_RESIDUAL} residual connections",
                                    reference=False),
        "test_build_resnet": Test(calls, saved_model.output_shape(10),
                                  "the saved model loads with safe_mode=True and maps (28, 28, 1) images to 10 scores",
                                  reference=False),
        "test_parameter_budget": Test(calls, saved_model.parameter_budget(MAX_PARAMETERS),
                                      f"at most {MAX_PARAMETERS:,} parameters", reference=False),
        "test_accuracy": Test(calls, saved_model.accuracy_at_least(budget["accuracy"], what),
                              f"accuracy on the {what} at least {budget['accuracy']:.0%}", reference=False),
    }
