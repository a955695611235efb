"""Learning-rate schedules that Keras does not ship, and the learning-rate range test (lecture 03).

Keras already has step decay (``keras.optimizers.schedules.PiecewiseConstantDecay``) and
cosine decay with linear warm-up (``keras.optimizers.schedules.CosineDecay(...,
warmup_target=..., warmup_steps=...)``); use those. This module adds the exponential ramp
of a learning-rate range test (Smith, 2017) and a callback that records the loss of every
batch against the learning rate it was trained with.
"""

from __future__ import annotations

import math

import numpy as np

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="course_lib")
class ExponentialRamp(keras.optimizers.schedules.LearningRateSchedule):
    """A learning rate that grows geometrically from `initial_learning_rate` to `final_learning_rate`.

    ``lr(step) = initial * (final / initial) ** (step / steps)``, held at `final_learning_rate`
    after `steps`. Used for the learning-rate range test: one epoch with this schedule,
    then plot the loss against the learning rate.

    Args:
        initial_learning_rate: the rate at step 0 (> 0).
        final_learning_rate: the rate at step `steps` (> 0).
        steps: number of steps of the ramp (>= 1).

    Example:
        >>> ramp = ExponentialRamp(1e-4, 1.0, steps=4)
        >>> [round(float(ramp(s)), 4) for s in range(5)]
        [0.0001, 0.001, 0.01, 0.1, 1.0]
    """

    def __init__(self, initial_learning_rate, final_learning_rate, steps):
        for name, value in (("initial_learning_rate", initial_learning_rate),
                            ("final_learning_rate", final_learning_rate)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")
        if not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"steps must be a positive integer (the length of the ramp, e.g. one epoch's "
                             f"batches), got {steps!r}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.final_learning_rate = float(final_learning_rate)
        self.steps = int(steps)

    def __call__(self, step):
        step = ops.minimum(ops.cast(step, "float32"), float(self.steps))
        ratio = math.log(self.final_learning_rate / self.initial_learning_rate)
        return self.initial_learning_rate * ops.exp(ratio * step / self.steps)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "final_learning_rate": self.final_learning_rate, "steps": self.steps}


class LRRangeTest(keras.callbacks.Callback):
    """Records the learning rate and the loss of every training batch (for a range test).

    Compile the model with an optimizer whose learning rate is an `ExponentialRamp`, fit for
    one epoch with this callback, then plot ``losses`` against ``learning_rates`` on a log
    axis. Keras reports the running mean of the loss over the epoch at each batch; the
    callback recovers each batch's own loss from consecutive means. Training stops once
    the loss exceeds `diverge` times the smallest loss seen.

    Args:
        diverge: stop when ``loss > diverge * best`` (> 1), or ``None`` to run the whole epoch.

    After `fit`: ``learning_rates`` and ``losses`` are NumPy arrays, one entry per batch;
    `suggestion()` gives the learning rate where the smoothed loss fell fastest.
    """

    def __init__(self, diverge: float | None = 4.0):
        super().__init__()
        if diverge is not None and not diverge > 1:
            raise ValueError(f"diverge must be greater than 1 (or None), got {diverge!r}")
        self.diverge = diverge
        self._lrs, self._losses = [], []

    @property
    def learning_rates(self) -> np.ndarray:
        return np.asarray(self._lrs)

    @property
    def losses(self) -> np.ndarray:
        return np.asarray(self._losses)

    def on_train_begin(self, logs=None):
        self._lrs, self._losses, self._mean, self._seen = [], [], 0.0, 0

    def on_train_batch_begin(self, batch, logs=None):
        self._lrs.append(float(ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    def on_train_batch_end(self, batch, logs=None):
        mean = float(logs["loss"])
        if batch == 0:
            self._mean, self._seen = 0.0, 0
        loss = (self._seen + 1) * mean - self._seen * self._mean
        self._mean, self._seen = mean, self._seen + 1
        self._losses.append(loss)
        if self.diverge is not None and (not math.isfinite(loss) or loss > self.diverge * min(self._losses)):
            self.model.stop_training = True

    def suggestion(self, smoothing: int = 5) -> float:
        """The learning rate where the loss, smoothed over `smoothing` batches, decreased fastest
        per unit of log learning rate.

        Each smoothed value is placed at the centre of its window (the mean log learning rate
        of its batches), so smoothing does not shift the answer towards later, larger rates;
        the answer is the centre of the steepest segment between two smoothed points.
        """
        n = len(self._losses)
        if n < smoothing + 2:
            raise ValueError(f"too few batches recorded ({n}) for smoothing={smoothing}; run fit first, "
                             f"with more batches")
        window = np.ones(smoothing) / smoothing
        smooth = np.convolve(self.losses, window, mode="valid")
        centres = np.convolve(np.log(self.learning_rates), window, mode="valid")
        k = int(np.argmin(np.diff(smooth) / np.diff(centres)))
        return float(np.exp((centres[k] + centres[k + 1]) / 2))
