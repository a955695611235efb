"""The one way the course trains and evaluates a classifier.

    import course_lib as cl
    x, y = cl.data.scale_images(train.x), train.y
    history = cl.training.fit(model, x, y, epochs=4)          # Adam 1e-3, shuffled batches of 128
    probs = cl.training.predict(model, x_test)                # (N, classes), batched
    print(cl.training.accuracy(probs, y_test))
    r = cl.training.run(lambda: cl.models.mlp((28, 28)), x, y, test=(x_test, y_test), epochs=2)
    print(r.final["loss"], r.test_accuracy)                   # a model trained from seed 0

`fit` feeds the model through `cl.data.batches` (the fastest input path of each backend),
compiles it when it is not compiled yet or when told how (optimizer, learning rate, loss),
and can put an augmentation in front of it. Everything else is Keras' own ``fit``.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np

import keras

from course_lib.data.pipeline import batches

DEFAULT_LOSS = "sparse_categorical_crossentropy"


class _NewModelRetracing(logging.Filter):
    """TensorFlow warns that "N out of the last M calls ... triggered tf.function retracing" when
    a comparison predicts with several freshly built models in turn: each model traces its own
    predict function once, which is expected and cheap here, so the warning would only mislead."""

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


logging.getLogger("tensorflow").addFilter(_NewModelRetracing())


def _optimizer(optimizer, learning_rate):
    if optimizer is None or isinstance(optimizer, str):
        name = optimizer or "adam"
        known = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop,
                 "adamw": keras.optimizers.AdamW}
        if name.lower() not in known:
            raise ValueError(f"unknown optimizer {name!r}; use one of {sorted(known)} or a keras.optimizers object")
        return known[name.lower()](1e-3 if learning_rate is None else learning_rate)
    if learning_rate is not None:
        raise ValueError("give learning_rate with an optimizer name (optimizer='sgd', learning_rate=0.1), "
                         "or set it inside the optimizer object, not both")
    return optimizer


def compile(model: keras.Model, optimizer=None, learning_rate=None, loss=DEFAULT_LOSS, metrics=("accuracy",),
            run_eagerly: bool = False, jit_compile="auto") -> keras.Model:
    """Compile `model` the course's way and return it.

    Args:
        optimizer: a name (``"adam"``, ``"sgd"``, ``"rmsprop"``, ``"adamw"``) or a Keras optimizer;
            default Adam.
        learning_rate: with an optimizer name, its learning rate (a float or a schedule); default 1e-3.
        loss: a Keras loss (name or object); default sparse categorical cross-entropy on probabilities.
        metrics: metrics to report; default accuracy.
        run_eagerly: no graph (tiny smoke runs, where tracing costs more than it saves).
        jit_compile: XLA compilation, as in ``Model.compile``.
    """
    model.compile(optimizer=_optimizer(optimizer, learning_rate), loss=loss, metrics=list(metrics or []),
                  run_eagerly=run_eagerly, jit_compile=jit_compile)
    return model


def with_augmentation(model: keras.Model, augment=True, seed: int = 0) -> keras.Model:
    """`model` behind an augmentation that is active in training and the identity at inference.

    Args:
        augment: ``True`` for `cl.models.augmentation()` (flips, shifts, zooms), a Keras layer or
            model of your own, or ``False``/``None`` for `model` itself.
        seed: seed of the default augmentation.

    The returned model shares `model`'s layers: training it trains `model`.
    """
    if augment is None or augment is False:
        return model
    if augment is True:
        from course_lib.models.augment import augmentation

        augment = augmentation(fill_mode="constant", seed=seed)
    if not callable(augment):
        raise ValueError(f"augment must be True, False, None or a Keras layer/model, got {augment!r}")
    return keras.Sequential([keras.Input(model.input_shape[1:]), augment, model], name=f"{model.name}_augmented")


def fit(model: keras.Model, x, y, *, epochs: int = 1, batch_size: int = 128, optimizer=None, learning_rate=None,
        loss=None, metrics=None, augment=None, validation_data=None, callbacks=(), seed: int = 0,
        shuffle: bool = True, verbose=0, run_eagerly=None, jit_compile="auto") -> keras.callbacks.History:
    """Train `model` on `x`, `y` in shuffled mini-batches and return Keras' ``History``.

    The model is compiled (see `compile`) when it has not been, when `augment` wraps it, or when
    any of `optimizer`, `learning_rate`, `loss`, `metrics`, `run_eagerly` is given; otherwise it
    keeps its optimizer and state, so a second call continues training.

    Args:
        x: inputs ``(N, ...)``, e.g. images in [0, 1] (`cl.data.scale_images`).
        y: targets ``(N, ...)``: class ids for the default loss.
        epochs: passes over the data.
        batch_size: examples per step.
        augment: see `with_augmentation`; the augmented model is what trains (sharing the weights).
        validation_data: ``(x_val, y_val)``, evaluated after every epoch.
        callbacks: Keras callbacks.
        seed: seed of the batch order.
        verbose: Keras' progress display (0 silent, 1 bar, 2 a line per epoch).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    trained = with_augmentation(model, augment, seed=seed)
    asked = any(v is not None for v in (optimizer, learning_rate, loss, metrics, run_eagerly))
    if trained is not model or asked or not model.compiled:
        compile(trained, optimizer, learning_rate, loss or DEFAULT_LOSS, ("accuracy",) if metrics is None else metrics,
                run_eagerly=bool(run_eagerly), jit_compile=jit_compile)
    data = batches(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed)
    return trained.fit(data, epochs=epochs, validation_data=validation_data, callbacks=list(callbacks),
                       verbose=verbose)


def predict(model: keras.Model, x, batch_size: int = 512) -> np.ndarray:
    """The model's outputs for `x` as a NumPy array, computed in batches (inference mode)."""
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))


def accuracy(probs, y) -> float:
    """Fraction of rows of `probs` (``(N, classes)`` scores) whose arg-max is the label in `y` (``(N,)``)."""
    probs, y = np.asarray(probs), np.asarray(y)
    if probs.ndim != 2 or len(probs) != len(y):
        raise ValueError(f"accuracy needs scores (N, classes) and labels (N,), got {probs.shape} and {y.shape}")
    return float(np.mean(probs.argmax(axis=-1) == y))


def evaluate(model: keras.Model, x, y, batch_size: int = 512) -> float:
    """Test accuracy of `model` on `x`, `y` (``accuracy(predict(model, x), y)``)."""
    return accuracy(predict(model, x, batch_size), y)


@dataclasses.dataclass
class Run:
    """One model trained from a seed: the model, Keras' ``History``, the test accuracy (``None``
    without test data) and the training time in seconds."""

    model: keras.Model
    history: keras.callbacks.History
    test_accuracy: float | None
    seconds: float

    @property
    def final(self) -> dict:
        """The last epoch's value of every logged metric (``run.final["loss"]``)."""
        return {k: v[-1] for k, v in self.history.history.items()}


def run(build, x, y, *, test=None, seed: int = 0, **fit_kwargs) -> Run:
    """Build a model from `seed` and train it: the unit of the course's comparisons.

    Every run of a comparison starts from the same seed (``keras.utils.set_random_seed``
    before `build` draws the initial weights), sees the same batch order, and is scored on
    the same test data, so the runs differ only in what the comparison changes.

    Args:
        build: a function of no arguments returning a new model, e.g.
            ``lambda: cl.models.mlp((28, 28), hidden_units=(256, 128))``.
        x, y: training data.
        test: ``(x_test, y_test)`` to score the trained model on (accuracy), or ``None``.
        seed: seed of the initial weights and of the batch order.
        **fit_kwargs: passed to `fit` (epochs, optimizer, learning_rate, callbacks, augment, ...).

    Example:
        >>> r = run(lambda: cl.models.mlp((28, 28)), x, y, test=(x_test, y_test), epochs=2)  # doctest: +SKIP
        >>> r.final["loss"], r.test_accuracy                                                # doctest: +SKIP
    """
    keras.utils.set_random_seed(seed)
    model = build()
    start = time.perf_counter()
    history = fit(model, x, y, seed=seed, **fit_kwargs)
    seconds = time.perf_counter() - start
    acc = evaluate(model, *test) if test is not None else None
    return Run(model, history, acc, seconds)


__all__ = ["compile", "fit", "predict", "accuracy", "evaluate", "with_augmentation", "run", "Run"]
