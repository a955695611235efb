"""Generated data sets: shape scenes, 2-D toy sets and sequence tasks.

Every generator takes the split and a seed and is deterministic; ``train`` and ``test``
draw from different random streams of the same distribution.
"""

from __future__ import annotations

import numpy as np

from course_lib.data.source import DataError, Source

SHAPE_CLASSES = ["circle", "square", "triangle"]
SHAPE_COLORS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (50, 80, 230), "yellow": (230, 210, 40)}

TOY_SETS = ("xor", "moons", "circles", "spirals", "linear")
SEQUENCE_TASKS = ("adding", "copy", "sine")


def _rng(name: str, split: str, seed: int) -> np.random.Generator:
    if split not in ("train", "test"):
        raise DataError(f"split must be 'train' or 'test', got {split!r}")
    return np.random.default_rng((seed, sum(map(ord, name)), 0 if split == "train" else 1))


# --- shape scenes ---

def _shape_mask(kind: str, rows, cols, cy, cx, r):
    if kind == "circle":
        return (rows - cy) ** 2 + (cols - cx) ** 2 <= r * r
    if kind == "square":
        return (np.abs(rows - cy) <= r * 0.85) & (np.abs(cols - cx) <= r * 0.85)
    # triangle pointing up: inside when below the apex lines and above the base
    top, base = cy - r, cy + r * 0.8
    half = (rows - top) / (base - top) * r
    return (rows >= top) & (rows <= base) & (np.abs(cols - cx) <= half)


def shapes(split: str, n: int, seed: int = 0, size: int = 64, max_shapes: int = 3):
    """Scenes of coloured circles, squares and triangles on a noisy background.

    Returns ``x`` (n, size, size, 3) uint8, ``y`` (n,) uint8: the class of the largest shape,
    and extras: ``masks`` (n, size, size) uint8 with 0 for background and 1 + class id for
    shapes (later shapes drawn on top), ``boxes`` (n, max_shapes, 5) float32 rows
    ``[class, y0, x0, y1, x1]`` in pixels with -1 padding, ``counts`` (n,) and ``captions``.
    """
    if size < 16:
        raise DataError(f"size must be at least 16 pixels, got {size}")
    if max_shapes < 1:
        raise DataError(f"max_shapes must be at least 1, got {max_shapes}")
    rng = _rng("shapes", split, seed)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    x = rng.normal(40, 10, (n, size, size, 3))
    masks = np.zeros((n, size, size), np.uint8)
    boxes = np.full((n, max_shapes, 5), -1, np.float32)
    counts = rng.integers(1, max_shapes + 1, n)
    y = np.zeros(n, np.uint8)
    captions = []
    color_names = list(SHAPE_COLORS)
    for i in range(n):
        items = []
        for j in range(counts[i]):
            kind_id = int(rng.integers(0, len(SHAPE_CLASSES)))
            color = color_names[int(rng.integers(0, len(color_names)))]
            r = rng.uniform(size * 0.08, size * 0.2)
            cy, cx = rng.uniform(r, size - r, 2)
            m = _shape_mask(SHAPE_CLASSES[kind_id], rows, cols, cy, cx, r)
            x[i][m] = SHAPE_COLORS[color]
            masks[i][m] = kind_id + 1
            rr, cc = np.nonzero(m)
            boxes[i, j] = (kind_id, rr.min(), cc.min(), rr.max() + 1, cc.max() + 1)
            items.append((m.sum(), cx, kind_id, color))
        y[i] = max(items)[2]
        described = sorted(items, key=lambda t: t[1])
        words = [f"a {color} {SHAPE_CLASSES[k]}" for _, _, k, color in described]
        captions.append(words[0] if len(words) == 1 else " left of ".join(words))
    x = np.clip(x, 0, 255).astype(np.uint8)
    extras = {"masks": masks, "boxes": boxes, "counts": counts.astype(np.int32), "captions": captions}
    return x, y, extras, Source("shapes", "synthetic", f"course_lib shape scenes (seed={seed}, size={size})")


# --- 2-D toy sets ---

def toy2d(name: str, split: str, n: int, seed: int = 0, noise: float = 0.1):
    """2-D points ``x`` (n, 2) float32 in about [-1.5, 1.5] and labels ``y`` (n,) int32 (two classes)."""
    if name not in TOY_SETS:
        raise DataError(f"unknown toy set {name!r}; choose one of {', '.join(TOY_SETS)}")
    rng = _rng(name, split, seed)
    if name == "xor":
        x = rng.uniform(-1, 1, (n, 2))
        y = (x[:, 0] * x[:, 1] > 0).astype(int)
        x = x + rng.normal(0, noise * 0.5, x.shape)
    elif name == "linear":
        y = rng.integers(0, 2, n)
        centres = np.array([[-0.6, -0.4], [0.6, 0.5]])
        x = centres[y] + rng.normal(0, 0.25 + noise, (n, 2))
    elif name == "moons":
        y = rng.integers(0, 2, n)
        t = rng.uniform(0, np.pi, n)
        x = np.where(y[:, None] == 0,
                     np.stack([np.cos(t), np.sin(t)], 1),
                     np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1)) - [0.5, 0.25]
        x = x + rng.normal(0, noise, x.shape)
    elif name == "circles":
        y = rng.integers(0, 2, n)
        t = rng.uniform(0, 2 * np.pi, n)
        radius = np.where(y == 0, 1.0, 0.45)
        x = radius[:, None] * np.stack([np.cos(t), np.sin(t)], 1) + rng.normal(0, noise, (n, 2))
    else:  # two interleaved spirals
        y = rng.integers(0, 2, n)
        t = rng.uniform(0.25, 1, n) * 3 * np.pi
        x = (t / (3 * np.pi))[:, None] * np.stack([np.cos(t + np.pi * y), np.sin(t + np.pi * y)], 1) * 1.3
        x = x + rng.normal(0, noise * 0.5, x.shape)
    return x.astype(np.float32), y.astype(np.int32), Source(name, "synthetic", f"course_lib toy set (seed={seed}, noise={noise})")


# --- sequence tasks ---

def sequence(name: str, split: str, n: int, seed: int = 0, length: int = 50):
    """Sequence tasks for recurrent networks.

    - ``adding``: ``x`` (n, length, 2): a random value and a marker channel with two ones;
      ``y`` (n,) float32 the sum of the two marked values (Hochreiter & Schmidhuber, 1997).
    - ``copy``: ``x`` (n, length + 20) int32: 10 symbols from 1..8, blanks (0), a delimiter (9),
      blanks; ``y`` (n, length + 20) int32: blanks, then the 10 symbols at the end.
    - ``sine``: ``x`` (n, length, 1) windows of noisy sine waves, ``y`` (n,) the next value.
    """
    if name not in SEQUENCE_TASKS:
        raise DataError(f"unknown sequence task {name!r}; choose one of {', '.join(SEQUENCE_TASKS)}")
    if length < 2:
        raise DataError(f"length must be at least 2, got {length}")
    rng = _rng(name, split, seed)
    if name == "adding":
        values = rng.uniform(0, 1, (n, length))
        marks = np.zeros((n, length))
        first = rng.integers(0, length // 2, n)
        second = rng.integers(length // 2, length, n)
        marks[np.arange(n), first] = 1
        marks[np.arange(n), second] = 1
        x = np.stack([values, marks], -1).astype(np.float32)
        y = (values * marks).sum(1).astype(np.float32)
    elif name == "copy":
        k = 10
        symbols = rng.integers(1, 9, (n, k))
        total = length + 2 * k
        x = np.zeros((n, total), np.int32)
        y = np.zeros((n, total), np.int32)
        x[:, :k] = symbols
        x[:, total - k - 1] = 9
        y[:, total - k:] = symbols
    else:
        freq = rng.uniform(0.05, 0.2, (n, 1))
        phase = rng.uniform(0, 2 * np.pi, (n, 1))
        t = np.arange(length + 1)[None, :]
        wave = np.sin(2 * np.pi * freq * t + phase) + rng.normal(0, 0.05, (n, length + 1))
        x = wave[:, :length, None].astype(np.float32)
        y = wave[:, length].astype(np.float32)
    return x, y, Source(name, "synthetic", f"course_lib sequence task (seed={seed}, length={length})")
