"""Fashion-MNIST scenes: real clothing items on a larger canvas, with masks, boxes and captions.

Each scene places 1 to `max_items` Fashion-MNIST items, each scaled by a factor drawn from
`scales`, at positions drawn from the seed, on a dark canvas with a faint texture. An item's
mask is its pixels brighter than `MASK_THRESHOLD` (isolated bright pixels are first dimmed to
the threshold); the background stays below it, so ``x > MASK_THRESHOLD`` is exactly where
some item is visible. Because
every item is pasted by the generator, the scene knows each item's class, its visible
pixels (a class mask and an instance mask) and its box, and describes itself in sentences
(`course_lib.data.scene_captions`). One data set serves localization, detection,
segmentation, captioning and the checks of visualization methods.

The train split draws its items from Fashion-MNIST's training images only, the test split
from its test images only (``extras["item_index"]`` records which). Where the real data is
missing, the embedded substitute's items are used through the same code, and the `Source`
says so.

Placement: an item is placed only where its box overlaps each earlier item's box by at most
`MAX_IOU` (intersection over union) and where it leaves every earlier item at least
`MIN_VISIBLE` of its pixels; each item gets `TRIES` positions in each of `ROUNDS` draws
(a new item and scale each round). An item that cannot be placed ends the scene early,
unless the scene would then have fewer than `min_items`, which is an error.
"""

from __future__ import annotations

import functools
import numpy as np

from course_lib import config
from course_lib.data import fallback, scene_captions
from course_lib.data.embedded import FASHION_CLASSES, fashion_substitute
from course_lib.data.scene_captions import CLASS_NAME_WORDS, CLASS_WORDS, describe, tokenize, vocabulary
from course_lib.data.source import DataError, Source, check_limit

MASK_THRESHOLD = 16   # an item's mask: its pixels brighter than this (after scaling)
MAX_IOU = 0.35        # largest box IoU of a new item with an earlier one
MIN_VISIBLE = 0.5     # every item keeps at least this fraction of its own pixels visible
TRIES = 25            # positions tried per item and round
ROUNDS = 3            # new items (and scales) drawn before giving up on a slot
CHUNK = 256           # scenes drawn from one random stream (so a scene does not depend on `n`)
SPLITS = ("train", "test")
SUBSTITUTE_ITEMS = {"train": 1000, "test": 250}   # drawn items where the real Fashion-MNIST is missing

def fashion_scenes(split: str, n: int, seed: int = 0, size: int = 64, max_items: int = 4, min_items: int = 1,
                   scales=(0.6, 1.2), items=None, captions_per_scene: int = 5, profile: str | None = None,
                   background: int = 12, require_real: bool = False):
    """Scenes of Fashion-MNIST items with class masks, instance masks, boxes and captions.

    Args:
        split: ``"train"`` (items from Fashion-MNIST's training images) or ``"test"`` (test images).
        n: number of scenes.
        seed: seed of everything random; scene ``i`` is the same for every ``n > i``.
        size: side of the square canvas in pixels; at least the largest scaled item (28 x ``scales[1]``).
        max_items, min_items: items per scene (drawn uniformly; crowded scenes may end early,
            never below `min_items`).
        scales: range of the scale factor of each item (1.0 keeps 28 x 28).
        items: the items to place: ``None`` loads Fashion-MNIST's `split` (the substitute where the
            real data is missing); a pair ``(images, labels)`` (``(N, H, W)`` uint8 and ``(N,)``
            class ids 0..9) used as given; or a callable ``items(split)`` returning such a pair,
            optionally with a `Source` as third element.
        captions_per_scene: reference captions per scene.
        profile: profile used to load Fashion-MNIST (default: the current one).
        background: brightest grey value of the background texture, below `MASK_THRESHOLD`; 0 for black.
        require_real: raise instead of using the substitute when the real Fashion-MNIST is missing.

    Returns:
        ``(x, y, extras, source)``: ``x`` (n, size, size) uint8 grey scenes; ``y`` (n,) uint8 the
        class of the item with the most visible pixels; extras:

        - ``masks`` (n, size, size) uint8: 0 background, 1 + class id where an item is visible
          (its pixels above `MASK_THRESHOLD`; later items on top);
        - ``instances`` (n, size, size) uint8: 0 background, k for the k-th item of the scene;
        - ``boxes`` (n, max_items, 5) float32 rows ``[class, y0, x0, y1, x1]``, tight around each
          item's visible pixels (end exclusive), -1 padding;
        - ``counts`` (n,) int32; ``captions``: n lists of `captions_per_scene` strings;
        - ``item_index`` (n, max_items) int32: index of each item in the items' split, -1 padding;
        - ``item_scale`` (n, max_items) float32: each item's scale factor, -1 padding.

    Example:
        >>> x, y, extras, source = fashion_scenes("test", 4, profile="smoke")
        >>> x.shape, extras["boxes"].shape, len(extras["captions"][0])
        ((4, 64, 64), (4, 4, 5), 5)
    """
    _check_arguments(split, n, seed, size, max_items, min_items, scales, captions_per_scene, background)
    images, labels, item_source = _items(items, split, profile, require_real)
    side = max(images.shape[1:])
    largest = int(round(side * scales[1]))
    if largest > size:
        raise DataError(
            f"size={size} is too small for items of up to {largest} pixels ({side} x scales[1]={scales[1]}); "
            f"use size >= {largest}, or scales with an upper bound <= {size / side:.2f}")
    n = int(n)
    x = np.empty((n, size, size), np.uint8)
    instances = np.empty((n, size, size), np.uint8)
    classes = np.full((n, max_items), -1, np.int32)
    item_index = np.full((n, max_items), -1, np.int32)
    item_scale = np.full((n, max_items), -1, np.float32)
    root = np.random.SeedSequence([seed, SPLITS.index(split), 0x5CE4E5])
    for c, child in enumerate(root.spawn((n + CHUNK - 1) // CHUNK)):
        part = slice(c * CHUNK, min(n, (c + 1) * CHUNK))
        rng = np.random.default_rng(child)
        (x[part], instances[part], item_index[part], item_scale[part]) = _compose_chunk(
            rng, part.stop - part.start, images, size, max_items, min_items, scales, background, split, part.start)
    placed = item_index >= 0
    classes[placed] = labels[item_index[placed]]
    counts = placed.sum(1).astype(np.int32)

    value = np.concatenate([np.zeros((n, 1), np.int32), classes + 1], 1).astype(np.uint8)  # instance k -> 1 + class
    masks = np.take_along_axis(value, instances.reshape(n, -1), 1).reshape(instances.shape)
    boxes, areas = _boxes(instances, classes, max_items)
    y = classes[np.arange(n), np.argmax(areas, 1)].astype(np.uint8)

    captions = []
    for c, child in enumerate(np.random.SeedSequence([seed, SPLITS.index(split), 0xCA7]).spawn((n + CHUNK - 1) // CHUNK)):
        rng = np.random.default_rng(child)
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            k = counts[i]
            captions.append(describe(classes[i, :k], boxes[i, :k, 1:], areas[i, :k], size, rng, captions_per_scene))

    extras = {"masks": masks, "instances": instances, "boxes": boxes, "counts": counts, "captions": captions,
              "item_index": item_index, "item_scale": item_scale}
    return x, y, extras, _scene_source(item_source, split, seed, size, max_items, scales)


def _check_arguments(split, n, seed, size, max_items, min_items, scales, captions_per_scene, background):
    if split not in SPLITS:
        raise DataError(f"split must be 'train' or 'test', got {split!r}")
    try:
        check_limit(n)
    except DataError:
        raise DataError(f"n (the number of scenes) must be a positive integer, got {n!r}; use e.g. n=1000") from None
    for name, value in (("seed", seed), ("size", size), ("max_items", max_items), ("min_items", min_items),
                        ("captions_per_scene", captions_per_scene), ("background", background)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise DataError(f"{name} must be an integer, got {value!r}")
    if seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed}")
    if min_items < 1:
        raise DataError(f"min_items must be at least 1, got {min_items}")
    if max_items < min_items:
        raise DataError(f"max_items={max_items} is below min_items={min_items}; use max_items >= min_items")
    if max_items > scene_captions.MAX_ITEMS:
        raise DataError(f"max_items must be at most {scene_captions.MAX_ITEMS}, got {max_items}")
    try:
        lo, hi = (float(s) for s in scales)
    except (TypeError, ValueError):
        raise DataError(f"scales must be a pair (low, high), got {scales!r}; use e.g. scales=(0.6, 1.2)") from None
    if not 0 < lo <= hi:
        raise DataError(f"scales must satisfy 0 < low <= high, got {scales!r}; use e.g. scales=(0.6, 1.2)")
    if captions_per_scene < 1:
        raise DataError(f"captions_per_scene must be at least 1, got {captions_per_scene}")
    if not 0 <= background < MASK_THRESHOLD:
        raise DataError(f"background must lie in 0..{MASK_THRESHOLD - 1} (below the mask threshold), got {background}")


# --- the items: Fashion-MNIST's split, the substitute, or what the caller gives ---

def _items(items, split, profile, require_real):
    source = None
    if items is None:
        data = fallback.real_or_substitute("fashion_mnist", split, profile=profile or config.current_profile(),
                                           require_real=require_real, substitute=fashion_substitute,
                                           count=SUBSTITUTE_ITEMS[split])
        images, labels, source = data.x, data.y, data.source
    else:
        got = items(split) if callable(items) else items
        if hasattr(got, "source") and hasattr(got, "x"):
            got = (got.x, got.y, got.source)
        if not isinstance(got, (tuple, list)) or len(got) not in (2, 3):
            raise DataError(f"items must be (images, labels), (images, labels, source) or a callable returning one, "
                            f"got {type(got).__name__}")
        images, labels = got[0], got[1]
        source = got[2] if len(got) == 3 else None
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3 or images.dtype != np.uint8 or len(images) == 0:
        raise DataError(f"item images must be a non-empty (N, H, W) uint8 array, got {images.shape} {images.dtype}")
    if labels.shape != (len(images),) or labels.min() < 0 or labels.max() >= len(CLASS_WORDS):
        raise DataError(f"item labels must be (N,) = ({len(images)},) class ids in 0..{len(CLASS_WORDS) - 1}, "
                        f"got shape {labels.shape} with values {labels.min()}..{labels.max()}")
    if source is None:
        source = Source("items", "synthetic", f"{len(images)} items given by the caller")
    return images, labels.astype(np.int32), source


def _scene_source(items: Source, split, seed, size, max_items, scales) -> Source:
    what = f"{size}x{size} canvases, 1-{max_items} items scaled {scales[0]}-{scales[1]}, seed={seed}"
    if items.kind == "substitute":
        return Source("fashion_scenes", "substitute", f"course_lib scenes of substitute {split} items ({what})",
                      note="not Fashion-MNIST: scenes of course_lib's drawn silhouettes; real Fashion-MNIST was not found")
    if items.kind == "real":
        return Source("fashion_scenes", "synthetic", f"course_lib scenes of Fashion-MNIST {split} images "
                      f"from {items.origin} ({what})", sha256=items.sha256,
                      note=f"real Fashion-MNIST {split} items, composed into scenes")
    return Source("fashion_scenes", "synthetic", f"course_lib scenes of {items.origin} ({what})",
                  sha256=items.sha256, note=items.note)


# --- composing scenes, vectorised over the scenes of one chunk ---

@functools.lru_cache(maxsize=256)
def _resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` weights of linear interpolation with a triangle filter widened when shrinking."""
    s = n_out / n_in
    centres = (np.arange(n_out) + 0.5) / s - 0.5
    support = max(1.0, 1.0 / s)
    w = np.clip(1 - np.abs(np.arange(n_in)[None, :] - centres[:, None]) / support, 0, None)
    return (w / w.sum(1, keepdims=True)).astype(np.float32)


def _scaled(images: np.ndarray, height: int, width: int) -> np.ndarray:
    rows = _resize_matrix(images.shape[1], height)
    cols = _resize_matrix(images.shape[2], width)
    out = rows @ images.astype(np.float32) @ cols.T
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _clean(items: np.ndarray) -> np.ndarray:
    """Dim isolated bright pixels (noise, as in the substitute) to the mask threshold: a pixel stays
    above it only where the mean of its 3 x 3 neighbourhood is above it too."""
    f = np.pad(items.astype(np.float32), ((0, 0), (1, 1), (1, 1)))
    h, w = items.shape[1:]
    mean = sum(f[:, dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)) / 9
    return np.where((items > MASK_THRESHOLD) & (mean <= MASK_THRESHOLD), np.uint8(MASK_THRESHOLD), items)


def _background(rng, m, size, level):
    coarse = rng.random((m, 6, 6), dtype=np.float32)
    smooth = _resize_matrix(6, size) @ coarse @ _resize_matrix(6, size).T
    noise = rng.random((m, size, size), dtype=np.float32)
    return np.clip(np.floor(level * (0.75 * smooth + 0.25 * noise) + 0.5), 0, level).astype(np.uint8)


def _first_last(any_along: np.ndarray):
    """Index of the first and one past the last True along the last axis."""
    length = any_along.shape[-1]
    return np.argmax(any_along, -1), length - np.argmax(any_along[..., ::-1], -1)


def _compose_chunk(rng, m, images, size, max_items, min_items, scales, level, split, offset):
    """Draw `m` scenes; returns canvases, instance maps, item indices and scales (-1 where no item)."""
    full = CHUNK                                  # random draws are made for a full chunk, so a scene
    h, w = images.shape[1:]                       # does not depend on how many scenes follow it
    target = rng.integers(min_items, max_items + 1, full)[:m]
    picks = rng.integers(0, len(images), (full, max_items, ROUNDS))[:m]
    factor = rng.uniform(scales[0], scales[1], (full, max_items, ROUNDS)).astype(np.float32)[:m]
    where = rng.random((full, max_items, ROUNDS, TRIES, 2), dtype=np.float32)[:m]
    bg = _background(rng, full, size, level)[:m]

    pad = int(round(max(h, w) * scales[1])) + 1
    canvas = np.zeros((m, size + 2 * pad, size + 2 * pad), np.uint8)
    canvas[:, pad:pad + size, pad:pad + size] = bg
    inst = np.zeros_like(canvas)
    item_index = np.full((m, max_items), -1, np.int32)
    item_scale = np.full((m, max_items), -1, np.float32)
    placed_boxes = np.zeros((m, max_items, 4), np.float32)   # tight boxes at placement, canvas coordinates
    own_pixels = np.zeros((m, max_items), np.int64)
    open_ = np.ones(m, bool)                      # scenes still adding items

    for j in range(max_items):
        want = open_ & (target > j)
        visible_sums = np.zeros((m, j, size + 1, size + 1), np.int32)
        if j:                                     # summed-area tables of each earlier item's visible pixels
            rows = np.flatnonzero(want)
            view = inst[rows, pad:pad + size, pad:pad + size]
            vis = view[:, None] == np.arange(1, j + 1, dtype=np.uint8)[None, :, None, None]
            visible_sums[rows, :, 1:, 1:] = vis.cumsum(2, dtype=np.int16).cumsum(3, dtype=np.int32)
        done = np.zeros(m, bool)
        for r in range(ROUNDS):
            pending = np.flatnonzero(want & ~done)
            if len(pending) == 0:
                break
            idx = picks[pending, j, r]
            f = factor[pending, j, r]
            heights = np.rint(h * f).astype(int)
            widths = np.rint(w * f).astype(int)
            for hh, ww in sorted(set(zip(heights.tolist(), widths.tolist()))):
                sel = (heights == hh) & (widths == ww)
                scenes = pending[sel]
                patches = _scaled(_clean(images[idx[sel]]), hh, ww)
                own = patches > MASK_THRESHOLD
                y0, y1 = _first_last(own.any(2))
                x0, x1 = _first_last(own.any(1))
                bh, bw = y1 - y0, x1 - x0
                ok_item = own.any((1, 2)) & (bh <= size) & (bw <= size)
                u = where[scenes, j, r]                               # (g, TRIES, 2)
                ty = np.floor(u[..., 0] * (size - bh + 1)[:, None]).astype(int)
                tx = np.floor(u[..., 1] * (size - bw + 1)[:, None]).astype(int)
                cand = np.stack([ty, tx, ty + bh[:, None], tx + bw[:, None]], -1).astype(np.float32)
                valid = np.repeat(ok_item[:, None], TRIES, 1)
                if j:
                    valid &= _fits(cand, placed_boxes[scenes, :j], visible_sums[scenes],
                                   own_pixels[scenes, :j])
                good = valid.any(1)
                choice = np.argmax(valid, 1)
                g = np.flatnonzero(good)
                if len(g) == 0:
                    continue
                s = scenes[g]
                py = pad + ty[g, choice[g]] - y0[g]
                px = pad + tx[g, choice[g]] - x0[g]
                rows = (py[:, None] + np.arange(hh))[:, :, None]
                cols = (px[:, None] + np.arange(ww))[:, None, :]
                at = (s[:, None, None], rows, cols)
                patch, mask = patches[g], own[g]
                canvas[at] = np.where(mask, patch, np.maximum(canvas[at], patch))
                inst[at] = np.where(mask, np.uint8(j + 1), inst[at])
                placed_boxes[s, j] = cand[g, choice[g]]
                own_pixels[s, j] = mask.sum((1, 2))
                item_index[s, j] = idx[sel][g]
                item_scale[s, j] = f[sel][g]
                done[s] = True
        failed = want & ~done
        short = np.flatnonzero(failed & (j < min_items))
        if len(short):
            raise DataError(
                f"could not place {min_items} items in scene {offset + short[0]} of the {split} split "
                f"(size={size}, min_items={min_items}, max_items={max_items}, scales={tuple(scales)}): the canvas is "
                f"too crowded; use a larger size, a smaller scales range or a smaller min_items")
        open_ &= ~failed
    crop = (slice(None), slice(pad, pad + size), slice(pad, pad + size))
    return canvas[crop], inst[crop], item_index, item_scale


def _fits(cand, earlier, visible_sums, own_pixels):
    """Which candidate boxes ``(g, T, 4)`` keep box IoU <= MAX_IOU with every earlier box ``(g, j, 4)`` and
    leave each earlier item at least MIN_VISIBLE of its own pixels (``(g, j)``) visible."""
    a = cand[:, :, None, :]
    b = earlier[:, None, :, :]
    ih = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    iw = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = ih * iw
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    iou = inter / (area_a + area_b - inter)
    # visible pixels of each earlier item inside the candidate box (which holds the new item's pixels)
    c = cand.astype(int)
    gi = np.arange(len(cand))[:, None, None]
    ei = np.arange(earlier.shape[1])[None, None, :]
    y0, x0, y1, x1 = (c[..., k][:, :, None] for k in range(4))
    covered = (visible_sums[gi, ei, y1, x1] - visible_sums[gi, ei, y0, x1]
               - visible_sums[gi, ei, y1, x0] + visible_sums[gi, ei, y0, x0])
    visible_now = visible_sums[:, :, -1, -1][:, None, :]
    keeps = visible_now - covered >= MIN_VISIBLE * own_pixels[:, None, :]
    return ((iou <= MAX_IOU) & keeps).all(-1)


def _boxes(instances, classes, max_items):
    """Tight boxes ``(n, max_items, 5)`` around each instance's visible pixels, and their areas ``(n, max_items)``."""
    n = len(instances)
    boxes = np.full((n, max_items, 5), -1, np.float32)
    areas = np.zeros((n, max_items), np.int64)
    for k in range(1, max_items + 1):
        hit = instances == k
        rows, cols = hit.any(2), hit.any(1)
        present = rows.any(1)
        y0, y1 = _first_last(rows)
        x0, x1 = _first_last(cols)
        box = np.stack([classes[:, k - 1], y0, x0, y1, x1], 1).astype(np.float32)
        boxes[present, k - 1] = box[present]
        areas[:, k - 1] = hit.sum((1, 2))
    return boxes, areas


CLASS_NAMES = FASHION_CLASSES

__all__ = ["fashion_scenes", "CLASS_NAMES", "CLASS_WORDS", "CLASS_NAME_WORDS", "describe", "tokenize", "vocabulary", "MASK_THRESHOLD"]
