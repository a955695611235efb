"""What a loader returns: arrays plus a `Source` record saying where they came from."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


TITLES = {"fashion_mnist": "Fashion-MNIST", "fashion_scenes": "Fashion-MNIST scenes", "mnist": "MNIST", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}


class DataError(ValueError):
    """A data set that cannot be loaded as asked: the message names the value and the fix."""


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a data set came from.

    Args:
        name: registry name, e.g. ``"fashion_mnist"``.
        kind: ``"real"`` (the published data set), ``"substitute"`` (an embedded
            stand-in with the same shapes), ``"embedded"`` (data shipped with a
            package, e.g. scikit-learn's digits) or ``"synthetic"`` (generated).
        origin: a path, a package, or a generator with its seed.
        sha256: checksum of the data read, where one was verified.
        note: anything a reader of a figure should know.
    """

    name: str
    kind: str
    origin: str
    sha256: str | None = None
    note: str = ""

    @property
    def is_real(self) -> bool:
        return self.kind == "real"

    def label(self) -> str:
        """A short tag for figure titles: ``"Fashion-MNIST"`` or ``"fashion_mnist (SUBSTITUTE)"``."""
        title = TITLES.get(self.name, self.name)
        if self.kind == "substitute":
            return f"{title} (SUBSTITUTE, not the real data)"
        return title


@dataclasses.dataclass
class Data:
    """A loaded split: ``x``, ``y`` as NumPy arrays, the `Source`, class names and extras.

    Unpacks like a pair: ``x, y = cl.data.load("digits")``.
    """

    x: np.ndarray
    y: np.ndarray | None
    source: Source
    class_names: list[str] | None = None
    extras: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __iter__(self):
        yield self.x
        yield self.y

    def __len__(self) -> int:
        return len(self.x)

    def __repr__(self) -> str:
        y = None if self.y is None else f"{self.y.shape} {self.y.dtype}"
        extra = f" extras={sorted(self.extras)}" if self.extras else ""
        return f"Data(x={self.x.shape} {self.x.dtype}, y={y}, source={self.source.kind}:{self.source.name}{extra})"

    def take(self, limit: int | None) -> "Data":
        """The first `limit` examples (all of them for ``None``)."""
        if limit is None:
            return self
        n = check_limit(limit)
        extras = {k: (v[:n] if _is_per_example(v, len(self.x)) else v) for k, v in self.extras.items()}
        y = None if self.y is None else self.y[:n]
        return dataclasses.replace(self, x=self.x[:n], y=y, extras=extras)


def _is_per_example(value, n: int) -> bool:
    return isinstance(value, (np.ndarray, list)) and len(value) == n


def check_limit(limit) -> int:
    """`limit` as a positive int, or a `DataError` that names it."""
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit <= 0:
        raise DataError(f"limit must be a positive integer or None, got {limit!r}; use e.g. limit=1000, or limit=None for all")
    return int(limit)
