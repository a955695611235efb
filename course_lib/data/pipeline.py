"""`batches()`: mini-batches for `model.fit` through the fastest input path of the backend.

Measured with `benchmarks/train_throughput.py` (2 CPU cores, the small CNN, real
Fashion-MNIST): handing NumPy arrays to `fit` on TensorFlow goes through Keras' array
adapter, whose throughput fell from about 1,040 to 730 images/s as the training set grew
from 6,000 to 60,000 images, while a `tf.data` pipeline (slices, shuffle, batch, prefetch)
kept about 1,240 images/s at both sizes. So on TensorFlow `batches()` builds that pipeline;
on JAX and PyTorch it returns a `keras.utils.PyDataset` over the arrays.

This module is backend-specific, and says so here: it is the one place that imports
TensorFlow for input pipelines.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from course_lib.data.source import DataError


def scale_images(x, channel_axis: bool = True) -> np.ndarray:
    """The loaders' uint8 images as the course's models take them: float32 in [0, 1].

    Args:
        x: images ``(N, H, W)`` or ``(N, H, W, C)`` with values 0..255 (or one image ``(H, W[, C])``
           with ``channel_axis=False``).
        channel_axis: give grey images ``(N, H, W)`` a channel axis, ``(N, H, W, 1)``; ``False``
            keeps the shape (for an MLP that flattens anyway).

    Example:
        >>> scale_images(np.full((2, 28, 28), 255, np.uint8)).shape
        (2, 28, 28, 1)
    """
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise DataError(f"scale_images expects uint8 pixels 0..255, got dtype {x.dtype}; "
                        f"images already in [0, 1] need no scaling")
    out = x.astype(np.float32) / 255.0
    if channel_axis and out.ndim == 3:
        out = out[..., None]
    return out


def _check(x, y, batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise DataError(f"batch_size must be a positive integer, got {batch_size!r}")
    if y is not None and len(x) != len(y):
        raise DataError(f"x and y differ in length: {len(x)} examples but {len(y)} labels")
    if len(x) == 0:
        raise DataError("x is empty; nothing to batch")


def _array_batches_class():
    import keras

    class ArrayBatches(keras.utils.PyDataset):
        """Shuffled mini-batches of in-memory arrays, reshuffled every epoch."""

        def __init__(self, x, y, batch_size, shuffle, seed):
            super().__init__()
            self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(x)) if shuffle else np.arange(len(x))

        def __len__(self):
            return math.ceil(len(self.x) / self.batch_size)

        def __getitem__(self, i):
            idx = np.sort(self.order[i * self.batch_size:(i + 1) * self.batch_size])
            return (self.x[idx],) if self.y is None else (self.x[idx], self.y[idx])

        def on_epoch_end(self):
            if self.shuffle:
                self.order = self.rng.permutation(len(self.x))

    return ArrayBatches


def batches(x, y=None, batch_size: int = 128, shuffle: bool = True, seed: int = 0):
    """Mini-batches of `x` (and `y`) for ``model.fit(batches(x, y), ...)``.

    Args:
        x: inputs, shape ``(N, ...)``.
        y: targets, shape ``(N, ...)``, or ``None``.
        batch_size: examples per batch; the last batch may be smaller.
        shuffle: a new order every epoch.
        seed: seed of the shuffling.

    Returns:
        A ``tf.data.Dataset`` on TensorFlow, a ``keras.utils.PyDataset`` on other backends.
    """
    import keras

    _check(x, y, batch_size)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # fit(shuffle=True), the default, warns that a Dataset is not reshuffled by Keras; this one
        # reshuffles itself every epoch, so the warning would only mislead.
        warnings.filterwarnings("ignore", message=r"`shuffle=True` was passed, but will be ignored", category=UserWarning)

        ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
        if shuffle:
            ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return _array_batches_class()(x, y, batch_size, shuffle, seed)
