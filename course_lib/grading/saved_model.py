"""Grade a Keras model that a notebook saved: evaluated in a second sandbox, judged here.

The notebook saves its model (``model.save("a3_model.keras")``). A hidden call of the
worker's own `READ_FILE` brings the file's bytes back as data. `Evaluator` then starts a fresh
sandboxed worker that runs no student code, only `model_checks.evaluate_file`: it checks that
the file names built-in Keras classes only, loads it with ``safe_mode=True`` and returns the
parameter count (from the weights' shapes), the residual connections and the outputs on the
hidden images. The labels never enter a sandbox: the comparators below compute accuracy and
budgets in the grading process. Nothing the student's process computed (a patched
``count_params`` or ``predict``, printed scores) is used, and the untrusted file is never
deserialized in the grading process.

    evaluate = Evaluator(x_test, setting)
    Call(READ_FILE, ("a3_model.keras",), context={"labels": y_test}, then=evaluate)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from course_lib.grading import sandbox
from course_lib.grading.spec import Call, Passed, Setting

READ_FILE = "course:read_file"
EVALUATION_CELL = "from course_lib.grading.model_checks import evaluate_file\n"
# The evaluation worker: import Keras, load the file, predict on at most some 10,000 images.
EVALUATION_LIMITS = sandbox.Limits(load_seconds=120.0, call_seconds=300.0, memory_bytes=8 * 2**30,
                                   processes=128, file_bytes=64 * 2**20)


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """What the evaluation sandbox said about a model file (plain data)."""

    parameters: int
    input_shape: tuple
    output_shape: tuple
    residual: tuple
    layers: dict
    outputs: np.ndarray


class Evaluator:
    """``then`` step of a `Call`: evaluate the returned model-file bytes on hidden images in a fresh sandbox.

    Args:
        images: uint8 array (N, 28, 28), the hidden test images (never their labels).
        setting: the run's `Setting` (isolation mode, threads).
        limits: limits of the evaluation worker (default `EVALUATION_LIMITS`).
    """

    def __init__(self, images, setting: Setting, limits: sandbox.Limits | None = None, batch_size: int = 250):
        self.images = np.ascontiguousarray(images, dtype=np.uint8)
        self.use_namespaces = setting.use_namespaces
        self.box = sandbox.Sandbox(keras=True, threads=setting.sandbox.threads, limits=limits or EVALUATION_LIMITS)
        self.batch_size = batch_size

    def __call__(self, value) -> Evaluation:
        data = value if isinstance(value, np.ndarray) else None
        if data is None or data.dtype != np.uint8 or data.ndim != 1:
            raise ValueError("the model file did not come back as bytes")
        run = sandbox.run_submission([(0, EVALUATION_CELL)], [("evaluate_file", (data, self.images),
                                                               {"batch_size": self.batch_size})],
                                     use_namespaces=self.use_namespaces, sandbox=self.box)
        if run.cell_errors:
            raise ValueError(f"the grader's evaluation sandbox failed ({run.cell_errors[0][1]}); "
                             "this is the course's fault: tell the course staff")
        result = run.results[0]
        if result.kind == "sandbox error":
            raise sandbox.Unavailable(result.error)
        if not result.ok and result.error.startswith("ModelFileError: "):
            raise ValueError(result.error.removeprefix("ModelFileError: "))
        if not result.ok:
            raise ValueError(f"the evaluation of the model stopped: {result.error}")
        return _evaluation(result.value, len(self.images))


def _evaluation(value, n: int) -> Evaluation:
    try:
        outputs = np.asarray(value["outputs"], dtype=np.float32)
        evaluation = Evaluation(int(value["parameters"]), tuple(value["input_shape"]), tuple(value["output_shape"]),
                                tuple(value["residual"]), dict(value["layers"]), outputs)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"the evaluation sandbox returned something unexpected ({exc})") from None
    if outputs.ndim != 2 or len(outputs) != n:
        raise ValueError(f"the model's outputs on {n} images have shape {outputs.shape}; expected ({n}, classes)")
    return evaluation


def read_model(filename: str, evaluate: Evaluator, labels=None) -> list[Call]:
    """The hidden call of a saved-model test: read `filename` after every cell, evaluate it; `labels` stay
    here for the comparator. Tests that read the same file share one read (and one evaluation)."""
    context = {} if labels is None else {"labels": np.asarray(labels)}
    return [Call(READ_FILE, (filename,), context=context, then=evaluate, shown=filename, at_end=True)]


# --- comparators: compare(evaluation, expected, call) -> message or None ---

def output_shape(classes: int):
    """The model maps (None, 28, 28, 1) images to (None, `classes`) scores."""

    def compare(actual: Evaluation, expected, call):
        if list(actual.output_shape) != [-1, classes]:
            shape = tuple(None if d == -1 else d for d in actual.output_shape)
            return f"the saved model's output shape is {shape}; it should be (None, {classes}): one score per class"
        return None

    return compare


def parameter_budget(limit: int):
    """At most `limit` parameters, counted from the weights' shapes in the evaluation sandbox."""

    def compare(actual: Evaluation, expected, call):
        if actual.parameters > limit:
            return (f"the saved model has {actual.parameters:,} parameters, over the budget of {limit:,}; "
                    "use fewer filters or blocks, and global average pooling before the classifier")
        return Passed(f"{actual.parameters:,} parameters")

    return compare


def residual_connections(minimum: int):
    """At least `minimum` Add layers where a shortcut skips a convolution."""

    def compare(actual: Evaluation, expected, call):
        if len(actual.residual) < minimum:
            found = f" ({', '.join(actual.residual)})" if actual.residual else ""
            adds = actual.layers.get("Add", 0)
            return (f"the saved model has {len(actual.residual)} residual connection(s){found} among {adds} Add "
                    f"layer(s); at least {minimum} are needed: an Add layer whose inputs are a block's input "
                    "(or its 1x1 projection) and the block's convolutions")
        return Passed(f"{len(actual.residual)} found")

    return compare


def accuracy_at_least(target: float, what: str = "hidden test set"):
    """Accuracy of the outputs' argmax against the labels in the call's context, at least `target`."""

    def compare(actual: Evaluation, expected, call):
        labels = call.context["labels"]
        outputs = actual.outputs
        if not np.isfinite(outputs).all():
            return "the saved model's outputs contain NaN or infinity; did the training diverge?"
        if outputs.shape[1] < int(labels.max()) + 1:
            return f"the saved model gives {outputs.shape[1]} scores per image; the labels need {int(labels.max()) + 1}"
        accuracy = float(np.mean(np.argmax(outputs, axis=1) == labels))
        if not accuracy >= target:
            return (f"accuracy {accuracy:.2%} on the {what} ({len(labels):,} images) is below the target of "
                    f"{target:.0%}; train longer (within the time budget) or check the validation curve")
        return Passed(f"{accuracy:.2%} on {len(labels):,} images")

    return compare
