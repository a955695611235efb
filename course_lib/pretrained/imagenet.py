"""The 1000 ImageNet-1k (ILSVRC 2012) classes, and `decode`, which turns model outputs into names.

Nothing is downloaded: the class list ships with course_lib as ``imagenet_classes.txt``, one
class a line, ``<WordNet id><TAB><names>``, in the standard order of the ImageNet training
labels (class 0 ``n01440764 tench, Tinca tinca``, class 999 ``n15075141 toilet tissue, ...``).
Its SHA-256 is pinned below and checked when the file is first read.

Where it came from: the WordNet ids are ``tensorflow_datasets/datasets/imagenet2012/labels.txt``
and the names ``IMAGENET_LABELS_LIST`` in ``tensorflow_datasets/datasets/siscore/labels.py``,
both from tensorflow-datasets 4.9 (Apache-2.0). Those names are the common human-readable
ImageNet list, except that its two duplicate names are told apart: class 134 is
"crane (bird)" and class 517 "crane (machine)"; class 638 is "maillot" and 639
"maillot, tank suit".
"""

from __future__ import annotations

import functools
import importlib.resources
from typing import NamedTuple

import numpy as np

from course_lib import storage

CLASSES_FILE = "imagenet_classes.txt"
CLASSES_SHA256 = "90500d7a26f8bcc3292fb5226ab1d8e7ee6e601ca1e19e56af379fa853a4a28e"
NUM_CLASSES = 1000


class ClassNamesError(RuntimeError):
    """The shipped class list is missing or altered: the message names the file and the fix."""


class Prediction(NamedTuple):
    """One of the top classes of one image."""

    index: int
    wnid: str
    name: str
    probability: float


def _classes_path():
    return importlib.resources.files("course_lib.pretrained") / CLASSES_FILE


@functools.lru_cache(maxsize=None)
def _classes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    path = _classes_path()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ClassNamesError(f"{path}: the ImageNet class list is missing ({exc.strerror}); "
                              f"reinstall the course: pip install --force-reinstall -e .") from exc
    digest = storage.sha256_bytes(raw)
    if digest != CLASSES_SHA256:
        raise ClassNamesError(f"{path}: SHA-256 is {digest[:16]}..., expected {CLASSES_SHA256[:16]}...; the ImageNet "
                              f"class list was altered. Restore it: git checkout {CLASSES_FILE}, or reinstall the course.")
    rows = [line.split("\t") for line in raw.decode("utf-8").splitlines()]
    return tuple(r[0] for r in rows), tuple(r[1] for r in rows)


def class_names() -> list[str]:
    """The 1000 class names, index ``i`` for output ``i`` (``class_names()[282] == 'tiger cat'``)."""
    return list(_classes()[1])


def wordnet_ids() -> list[str]:
    """The 1000 WordNet ids (``'n02123159'`` for class 282), in the order of `class_names`."""
    return list(_classes()[0])


def _as_probabilities(scores: np.ndarray) -> np.ndarray:
    """Rows that already are distributions stay; anything else (logits) goes through a softmax."""
    is_distribution = (scores.min() >= 0 and scores.max() <= 1
                       and np.allclose(scores.sum(axis=-1), 1.0, atol=1e-3))
    if is_distribution:
        return scores
    z = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def decode(scores, top: int = 5):
    """The `top` classes of each image, most probable first, without any download.

    Args:
        scores: ``(1000,)`` or ``(N, 1000)``: probabilities (the output of a model with a softmax
            top) or logits (anything that is not a distribution is passed through a softmax).
        top: how many classes per image.

    Returns: a list of `Prediction(index, wnid, name, probability)` for a single ``(1000,)``
    vector, else one such list per image.

    Example:
        >>> p = np.zeros(1000); p[967] = 1.0
        >>> decode(p, top=1)[0].name
        'espresso'
    """
    arr = np.asarray(scores, dtype=np.float64)   # accepts NumPy, lists and backend tensors
    single = arr.ndim == 1
    if arr.ndim not in (1, 2) or arr.shape[-1] != NUM_CLASSES:
        raise ValueError(f"decode expects ImageNet scores of shape (1000,) or (N, 1000), got {arr.shape}; "
                         f"pass the output of a model with include_top=True")
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or not 1 <= top <= NUM_CLASSES:
        raise ValueError(f"top must be an integer from 1 to 1000, got {top!r}")
    wnids, names = _classes()
    probs = _as_probabilities(np.atleast_2d(arr))
    order = np.argsort(-probs, axis=-1, kind="stable")[:, :top]
    out = [[Prediction(int(i), wnids[i], names[i], float(row[i])) for i in idx] for row, idx in zip(probs, order)]
    return out[0] if single else out


__all__ = ["class_names", "wordnet_ids", "decode", "Prediction", "ClassNamesError", "CLASSES_SHA256"]
