"""Optimising the image itself (Gatys et al.): Adam, or SciPy's L-BFGS as in the paper.

    f = loss.for_content(content)                        # a scalar function of (1, H, W, 3) images in [0, 1]
    adam = cl.style.optimize_image(f, x0, method="adam", steps=200, learning_rate=0.02)
    lbfgs = cl.style.optimize_image(f, x0, method="lbfgs", steps=50)
    adam.image, adam.losses, adam.seconds                # (H, W, 3) in [0, 1]; the loss and the clock at every evaluation

Gradients come from `cl.autodiff.value_and_grad`, so both run on TensorFlow, JAX and PyTorch.
The pixels stay in [0, 1]: L-BFGS-B takes them as bounds, Adam clips after each step.
"""

from __future__ import annotations

import dataclasses
import time
import weakref

import numpy as np

import keras
from keras import ops

from course_lib.autodiff import compiled_value_and_grad, value_and_grad

METHODS = ("lbfgs", "adam")
_compiled = weakref.WeakKeyDictionary()     # fn -> its compiled step, so that repeated runs trace once


def _stepper(objective, compile):
    fn, args = (objective.fn, tuple(objective.args)) if hasattr(objective, "fn") else (objective, ())
    if not compile:
        return lambda x: value_and_grad(lambda t: fn(t, *args), x)
    try:
        step = _compiled[fn]
    except (KeyError, TypeError):
        step = compiled_value_and_grad(fn)
        try:
            _compiled[fn] = step
        except TypeError:          # not weak-referenceable: compiled for this run only
            pass
    return lambda x: step(ops.convert_to_tensor(x, dtype="float32"), *args)


@dataclasses.dataclass
class ImageResult:
    """The outcome of `optimize_image`.

    Attributes:
        image: ``(H, W, 3)`` float32 in [0, 1], the best image found.
        losses: the loss at each evaluation of the function (one per Adam step; L-BFGS
            evaluates a few more times than it iterates, in its line searches).
        seconds: the wall-clock time at each evaluation, from the start.
        iterations: optimiser iterations (Adam steps, L-BFGS iterations).
        method: ``"adam"`` or ``"lbfgs"``.
        compile_seconds: the time spent compiling before the clock of `seconds` started
            (0 when run eagerly; about one evaluation when the compiled function is reused).
    """

    image: np.ndarray
    losses: list
    seconds: list
    iterations: int
    method: str
    compile_seconds: float = 0.0

    @property
    def final_loss(self) -> float:
        return float(min(self.losses))

    @property
    def total_seconds(self) -> float:
        return float(self.seconds[-1]) if self.seconds else 0.0


def _start(x0):
    x0 = np.asarray(ops.convert_to_numpy(x0), dtype="float32")
    if x0.ndim == 3:
        x0 = x0[None]
    if x0.ndim != 4 or x0.shape[0] != 1 or x0.shape[-1] != 3:
        raise ValueError(f"x0 must be one RGB image (H, W, 3) or (1, H, W, 3) in [0, 1], got shape {x0.shape}")
    return np.clip(x0, 0.0, 1.0)


def _lbfgs(step, x0, steps, record, history_size):
    from scipy.optimize import Bounds, minimize
    from threadpoolctl import threadpool_limits

    shape = x0.shape

    def fun(flat):
        value, grad = step(flat.reshape(shape).astype("float32"))
        value = float(ops.convert_to_numpy(value))
        record(value, flat)
        return value, np.asarray(ops.convert_to_numpy(grad), dtype="float64").ravel()

    # ftol = gtol = 0: SciPy's default tolerances are absolute for losses below 1 and would stop a
    # small-valued loss (such as the lecture's style loss) after a few iterations
    # One BLAS thread: L-BFGS-B's vector operations are small, and threads that contend with the
    # network's for the same cores made each iteration ten times slower on a two-core machine.
    with threadpool_limits(limits=1, user_api="blas"):
        result = minimize(fun, x0.ravel().astype("float64"), jac=True, method="L-BFGS-B",
                          bounds=Bounds(np.zeros(x0.size), np.ones(x0.size)),
                          options={"maxiter": int(steps), "maxcor": int(history_size), "maxfun": 2 * int(steps) + 2,
                                   "ftol": 0.0, "gtol": 0.0})
    return int(result.nit)


def _adam_state(x0, learning_rate):
    image = keras.Variable(x0, dtype="float32", name="image")
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build([image])
    return image, optimizer


def _adam(step, image, optimizer, steps, record):
    for _ in range(int(steps)):
        value, grad = step(ops.copy(image.value))  # a tensor, not the variable: a variable would trigger a new trace
        record(float(ops.convert_to_numpy(value)), image.value)
        optimizer.apply([grad], [image])
        image.assign(ops.clip(image.value, 0.0, 1.0))
    value, _ = step(ops.copy(image.value))        # the loss after the last step
    record(float(ops.convert_to_numpy(value)), image.value)
    return int(steps)


def optimize_image(fn, x0, *, method="lbfgs", steps=100, learning_rate=0.02, history_size=10,
                   compile=True) -> ImageResult:
    """Minimise a scalar function of an image over its pixels, kept in [0, 1].

    Args:
        fn: images ``(1, H, W, 3)`` to a scalar tensor: an `Objective` (`PerceptualLoss.for_content`),
            or any function of one image.
        x0: the starting image, ``(H, W, 3)`` or ``(1, H, W, 3)`` (noise, or the content image).
        method: ``"lbfgs"`` (SciPy's L-BFGS-B, bounded to [0, 1]: Gatys et al.'s optimiser) or
            ``"adam"`` (Keras' Adam, clipped to [0, 1] after each step).
        steps: Adam steps, or L-BFGS iterations (each of which may evaluate `fn` more than once;
            at most ``2 * steps + 2`` evaluations).
        learning_rate: Adam's step size, in units of the pixel range [0, 1].
        history_size: L-BFGS's memory (SciPy's ``maxcor``).
        compile: compile the function and its gradient once (`cl.autodiff.compiled_value_and_grad`);
            ``False`` runs eagerly, cheaper for a handful of steps. Compilation happens before
            the clock starts (`ImageResult.compile_seconds`), so `seconds` compares optimisers fairly.

    Returns: an `ImageResult` with the image of lowest loss seen and the loss against time.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if int(steps) < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    x0 = _start(x0)
    losses, seconds, best = [], [], {"loss": np.inf, "image": x0}
    step = _stepper(fn, compile)
    start = time.perf_counter()
    if compile:                                    # trace and compile before the clock starts
        ops.convert_to_numpy(step(x0)[0])
    compile_seconds = time.perf_counter() - start if compile else 0.0
    if method == "adam":
        image, optimizer = _adam_state(x0, learning_rate)      # Adam's variables, made before the clock starts
    start = time.perf_counter()

    def record(value, image):
        losses.append(value)
        seconds.append(time.perf_counter() - start)
        if not np.isfinite(value):
            raise FloatingPointError(f"the loss became {value} at evaluation {len(losses)} ({method}); lower the "
                                     f"learning rate or the loss weights")
        if value < best["loss"]:
            best["loss"], best["image"] = value, np.array(ops.convert_to_numpy(image), dtype="float32", copy=True)

    if method == "lbfgs":
        iterations = _lbfgs(step, x0, steps, record, history_size)
    else:
        iterations = _adam(step, image, optimizer, steps, record)
    image = np.clip(best["image"].reshape(x0.shape)[0], 0.0, 1.0)
    return ImageResult(image, losses, seconds, iterations, method, compile_seconds)


__all__ = ["optimize_image", "ImageResult", "METHODS"]
