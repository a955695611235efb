"""Pass-through to TensorFlow Datasets: ``load("tfds:<name>", split, data_dir=...)``.

TFDS needs TensorFlow; on the JAX-only GPU machine this path is unavailable and says so.
"""

from __future__ import annotations

import numpy as np

from course_lib.data import files
from course_lib.data.source import Data, DataError, Source


def load(name: str, split: str, data_dir: str | None = None, **options) -> Data:
    """Load a TFDS data set whole as NumPy arrays, batch by batch (``as_supervised`` when it has supervised keys)."""
    try:
        import tensorflow_datasets as tfds
    except ImportError as exc:
        raise DataError(f"tfds:{name} needs tensorflow-datasets (pip install tensorflow-datasets): {exc}") from exc
    if not name:
        raise DataError("give a TFDS name after 'tfds:', e.g. 'tfds:mnist'")
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as exc:
        raise DataError(f"TFDS does not know {name!r} ({exc}); see `tfds.list_builders()`") from exc
    supervised = builder.info.supervised_keys is not None
    try:
        batches = tfds.load(name, split=split, data_dir=data_dir, batch_size=1024, as_supervised=supervised,
                            download=not files.offline(), **options)
        parts = list(tfds.as_numpy(batches))
    except Exception as exc:
        raise DataError(
            f"tfds:{name} split {split!r} could not be loaded from data_dir={data_dir!r} ({type(exc).__name__}: {exc}); "
            f"prepare it once with network access (tfds build {name}) or point data_dir at a prepared copy") from exc
    if not parts:
        raise DataError(f"tfds:{name} split {split!r} is empty")
    names = None
    label_feature = builder.info.features[builder.info.supervised_keys[1]] if supervised else None
    if label_feature is not None and hasattr(label_feature, "names"):
        names = list(label_feature.names)
    origin = f"tensorflow_datasets {name} in {data_dir or builder.data_dir}"
    source = Source(f"tfds:{name}", "real", origin)
    if supervised:
        x = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1] for p in parts])
        return Data(x, y, source, names)
    arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    first = next(iter(arrays))
    return Data(arrays[first], None, source, names, extras=arrays)
