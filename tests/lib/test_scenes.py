"""Fashion-MNIST scenes: masks, boxes and captions agree with each other and with the geometry;
the test split uses only test images; determinism; the substitute path; bad input."""

import gzip
import re
import warnings

import numpy as np
import pytest

import course_lib as cl
from course_lib import storage
from course_lib.data import real, scene_captions, scenes
from course_lib.data.embedded import FASHION_CLASSES
from course_lib.data.scenes import fashion_scenes
from tests.conftest import idx_bytes

SIZE = 64


@pytest.fixture(scope="module")
def smoke_scenes():
    """300 scenes (two chunks) of the substitute's items, as the smoke profile makes them."""
    return fashion_scenes("train", 300, seed=3, profile="smoke")


def _marked_items(value, classes, n=40, side=28):
    """Items that carry their origin: a solid square of grey `value`, labels drawn from `classes`."""
    images = np.zeros((n, side, side), np.uint8)
    images[:, 7:21, 7:21] = value
    return images, np.resize(np.asarray(classes, np.uint8), n)


# --- shapes, dtypes, masks and boxes ---

def test_shapes_and_dtypes():
    x, y, extras, source = fashion_scenes("test", 7, size=48, max_items=3, scales=(0.5, 1.0),
                                          captions_per_scene=3, profile="smoke")
    assert x.shape == (7, 48, 48) and x.dtype == np.uint8
    assert y.shape == (7,) and y.dtype == np.uint8
    for name in ("masks", "instances"):
        assert extras[name].shape == (7, 48, 48) and extras[name].dtype == np.uint8
    assert extras["boxes"].shape == (7, 3, 5) and extras["boxes"].dtype == np.float32
    assert extras["counts"].shape == (7,) and extras["counts"].dtype == np.int32
    assert extras["item_index"].shape == (7, 3) and extras["item_index"].dtype == np.int32
    assert extras["item_scale"].shape == (7, 3) and extras["item_scale"].dtype == np.float32
    captions = extras["captions"]
    assert len(captions) == 7 and all(len(c) == 3 and all(isinstance(s, str) for s in c) for c in captions)
    assert source.name == "fashion_scenes"


def test_every_mask_pixel_lies_in_its_tight_box(smoke_scenes):
    x, y, extras, _ = smoke_scenes
    inst, boxes, counts = extras["instances"], extras["boxes"], extras["counts"]
    for i in range(len(x)):
        k = counts[i]
        assert (boxes[i, k:] == -1).all(), f"scene {i}: padding rows must be -1"
        assert set(np.unique(inst[i])) == set(range(k + 1)), f"scene {i}: instance ids must be 0..{k}"
        for j in range(k):
            rows, cols = np.nonzero(inst[i] == j + 1)
            _, y0, x0, y1, x1 = boxes[i, j]
            # inside: every pixel of the item within [y0, y1) x [x0, x1); tight: touching all four sides
            assert (rows.min(), cols.min(), rows.max() + 1, cols.max() + 1) == (y0, x0, y1, x1), f"scene {i} item {j}"


def test_instance_and_class_masks_agree(smoke_scenes):
    x, y, extras, _ = smoke_scenes
    masks, inst, boxes = extras["masks"], extras["instances"], extras["boxes"]
    np.testing.assert_array_equal(masks > 0, inst > 0)
    for i in range(len(x)):
        for j in range(extras["counts"][i]):
            assert (masks[i][inst[i] == j + 1] == boxes[i, j, 0] + 1).all()
    # the mask is exactly where the image is brighter than the threshold: the background stays below it
    np.testing.assert_array_equal(x > scenes.MASK_THRESHOLD, masks > 0)
    assert x[masks == 0].max() > 0, "the background has a faint texture"


def test_label_is_the_class_of_the_largest_item(smoke_scenes):
    x, y, extras, _ = smoke_scenes
    for i in range(len(x)):
        k = extras["counts"][i]
        areas = [(extras["instances"][i] == j + 1).sum() for j in range(k)]
        assert y[i] == extras["boxes"][i, int(np.argmax(areas)), 0]


def test_counts_within_bounds_and_items_stay_visible():
    # solid 14 x 14 squares at scale 1: each item has exactly 196 pixels of its own
    images, labels = _marked_items(200, range(10))
    x, y, extras, _ = fashion_scenes("train", 200, size=48, min_items=2, max_items=5, scales=(1.0, 1.0),
                                     items=(images, labels))
    counts = extras["counts"]
    assert counts.min() >= 2 and counts.max() <= 5
    assert {2, 5} <= set(counts.tolist()), "both ends of the range occur"
    areas = np.stack([(extras["instances"] == k).sum((1, 2)) for k in range(1, 6)], 1)
    placed = np.arange(5)[None, :] < counts[:, None]
    assert (areas[placed] >= scenes.MIN_VISIBLE * 196).all(), "every item keeps at least half its pixels"
    assert (areas[placed] < 196).any(), "items may overlap"


def _iou(a, b):
    ih = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iw = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ih * iw
    return inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter)


def test_boxes_overlap_at_most_max_iou():
    # hollow 20 x 20 frames: nesting one in another would hide few pixels, so only the box bound keeps them apart
    images = np.zeros((10, 28, 28), np.uint8)
    images[:, 4:24, 4:24] = 200
    images[:, 6:22, 6:22] = 0
    x, y, extras, _ = fashion_scenes("train", 150, size=48, min_items=2, max_items=4, scales=(1.0, 1.0),
                                     items=(images, np.arange(10)))
    ious = [_iou(b[j, 1:], b[k, 1:]) for b, n in zip(extras["boxes"], extras["counts"])
            for j in range(n) for k in range(j)]
    assert max(ious) <= scenes.MAX_IOU + 1e-6
    assert max(ious) > 0.1, "items may overlap"


# --- captions ---

NUMBERS = {w: i for i, w in enumerate(scene_captions.NUMBER_WORDS)} | {"a": 1, "an": 1}
NOUNS = {}
for _cls, (_singular, _plural) in enumerate(scene_captions.CLASS_WORDS):
    NOUNS[_singular], NOUNS[_plural] = (_cls, False), (_cls, True)
_NOUN = "|".join(sorted(map(re.escape, NOUNS), key=len, reverse=True))
_NUM = "|".join(NUMBERS)
NP = rf"(?:{_NUM}) (?:{_NOUN})"               # a plain noun phrase; adjectives only where a form has them
NP_PARTS = re.compile(rf"\b({_NUM}) (?:(large|small|single) )?({_NOUN})\b")
LIST = rf"{NP}(?:, {NP})* and {NP}|{NP}"
POS = "|".join(map(re.escape, scene_captions.POSITIONS.values()))


def _phrases(text):
    """[(class, how many, adjective)] for each noun phrase of `text`."""
    out = []
    for number, adjective, noun in NP_PARTS.findall(text):
        cls, plural = NOUNS[noun]
        k = NUMBERS[number]
        assert plural == (k != 1), f"number agreement: {number!r} {noun!r}"
        out.append((cls, k, adjective))
    return out


def _geometry(extras, i):
    k = extras["counts"][i]
    boxes = extras["boxes"][i, :k]
    cls = boxes[:, 0].astype(int)
    cy, cx = (boxes[:, 1] + boxes[:, 3]) / 2, (boxes[:, 2] + boxes[:, 4]) / 2
    areas = np.array([(extras["instances"][i] == j + 1).sum() for j in range(k)])
    return cls, cy, cx, areas


def _band(v, size):
    """Independent reading of the position words: thirds of the canvas, loosely."""
    f = v / size
    return {0} if f < 0.4 else {2} if f > 0.6 else {1}


def check_caption(caption, cls, cy, cx, areas, y, size):
    """Fail unless `caption` is one of the grammar's forms and everything it says is true."""
    members = {c: np.flatnonzero(cls == c) for c in set(cls.tolist())}
    phrases = _phrases(caption)
    for c, k, _ in phrases:                       # a phrase names every item of its class, with the right number
        assert c in members and len(members[c]) == k, f"{caption!r}: {k} x class {c}, scene has {cls.tolist()}"
    margin = 0.05 * size

    def before(a, b, centre):                     # every item of class a before every item of class b
        return all(centre[j] - centre[i] > margin for i in members[a] for j in members[b])

    def names_everything():
        assert sorted(c for c, _, _ in phrases) == sorted(members), f"{caption!r} must list every item"

    if m := re.fullmatch(rf"(?:a picture of |an image of |there (?:is|are) )?({LIST})(?: on a dark background)?", caption):
        names_everything()
    elif m := re.fullmatch(rf"(\w+) items: ({LIST})", caption):
        assert NUMBERS[m[1]] == len(cls), caption
        names_everything()
    elif m := re.fullmatch(rf"from (left to right|top to bottom): ({LIST})", caption):
        names_everything()
        centre = cx if m[1] == "left to right" else cy
        assert all(before(a[0], b[0], centre) for a, b in zip(phrases, phrases[1:])), caption
    elif m := re.fullmatch(rf"({NP}) (to the left of|to the right of|above|below) ({NP})", caption):
        (a, _, _), (b, _, _) = phrases
        ok = {"to the left of": before(a, b, cx), "to the right of": before(b, a, cx),
              "above": before(a, b, cy), "below": before(b, a, cy)}[m[2]]
        assert ok, f"{caption!r} is false: classes {cls.tolist()}, centres y {cy.tolist()} x {cx.tolist()}"
    elif re.fullmatch(rf"(?:a|an) (?:large|small) (?:{_NOUN}) and (?:a|an) (?:large|small) (?:{_NOUN})", caption):
        assert {p[2] for p in phrases} == {"large", "small"}, caption
        large = next(c for c, _, adj in phrases if adj == "large")
        small = next(c for c, _, adj in phrases if adj == "small")
        assert areas[members[large][0]] >= 1.5 * areas[members[small][0]], caption
    elif m := re.fullmatch(rf"(?:there is )?({NP}) ({POS})(?: and ({NP}) ({POS}))?", caption):
        if m[3]:
            names_everything()
        for (c, k, _), where in zip(phrases, [m[2], m[4]]):
            (i,) = members[c]
            row = {"top": 0, "bottom": 2}.get(next((w for w in ("top", "bottom") if w in where), None), 1)
            col = {"left": 0, "right": 2}.get(next((w for w in ("left", "right") if w in where), None), 1)
            assert row in _band(cy[i], size) and col in _band(cx[i], size), f"{caption!r}: centre {cy[i]}, {cx[i]}"
    elif re.fullmatch(rf"the largest item is {NP}", caption):
        assert phrases[0][0] == y and len(cls) >= 2, caption
    elif re.fullmatch(rf"(?:one|a single) (?:{_NOUN})|{NP} on its own", caption):
        assert len(cls) == 1 and phrases[0][1] == 1, caption
    elif m := re.fullmatch(rf"({NP})(?: side by side|, one above the other)", caption):
        ((c, k, _),) = phrases
        i, j = members[c]
        assert k == 2
        along, across = (cx, cy) if "side by side" in caption else (cy, cx)
        assert abs(along[i] - along[j]) > margin and abs(along[i] - along[j]) >= abs(across[i] - across[j]), caption
    else:
        pytest.fail(f"caption outside the grammar the test knows: {caption!r}")


def test_captions_name_only_items_in_the_scene_and_tell_the_truth(smoke_scenes):
    x, y, extras, _ = smoke_scenes
    for i in range(len(x)):
        cls, cy, cx, areas = _geometry(extras, i)
        for caption in extras["captions"][i]:
            check_caption(caption, cls, cy, cx, areas, y[i], SIZE)
    # the scenes exercise the relation, order, size and position forms, not only lists
    said = " | ".join(sum(extras["captions"], []))
    for words in (("to the left of", "to the right of"), ("above", "below"), ("from left to right", "from top to bottom"),
                  ("a large",), ("the largest item is",), tuple(scene_captions.POSITIONS.values()), ("items:",)):
        assert any(w in said for w in words), words


def test_caption_check_catches_false_relations():
    """The checker above must be able to fail: a swapped relation or a missing item is caught."""
    cls, cy, cx, areas = np.array([5, 8]), np.array([32.0, 32.0]), np.array([15.0, 50.0]), np.array([100, 300])
    check_caption("a sandal to the left of a bag", cls, cy, cx, areas, 8, SIZE)
    for wrong in ("a bag to the left of a sandal", "a sandal above a bag", "a sandal and a coat",
                  "two sandals to the left of a bag", "a large sandal and a small bag", "a bag",
                  "the largest item is a sandal", "a sandal in the top left corner", "a sandal beside a bag"):
        with pytest.raises((AssertionError, pytest.fail.Exception)):
            check_caption(wrong, cls, cy, cx, areas, 8, SIZE)


def test_grammar_on_hand_made_scenes():
    # a sandal (5) on the left, a bag (8) on the right, both at mid height; the bag three times larger
    boxes, areas = [[26, 5, 38, 25], [20, 40, 44, 60]], [100, 300]
    said = sum(scene_captions.candidates([5, 8], boxes, areas, SIZE).values(), [])
    for caption in ("a sandal to the left of a bag", "a bag to the right of a sandal", "a small sandal and a large bag",
                    "the largest item is a bag", "from left to right: a sandal and a bag", "a sandal on the left"):
        assert caption in said
    assert not any("above" in c or "below" in c or "a large sandal" in c for c in said)
    # a bag above two sneakers (7); an ankle boot takes "an"
    said = sum(scene_captions.candidates([8, 7, 7], [[2, 20, 20, 44], [40, 5, 60, 25], [40, 39, 60, 59]],
                                         [300, 200, 200], SIZE).values(), [])
    assert "a bag above two sneakers" in said and "two sneakers below a bag" in said
    assert "two sneakers side by side" in said and "three items: a bag and two sneakers" in said
    assert scene_captions.noun_phrase(9) == "an ankle boot" and scene_captions.noun_phrase(1, 3) == "three pairs of trousers"


def test_captions_differ_within_a_scene_and_use_the_vocabulary(smoke_scenes):
    captions = smoke_scenes[2]["captions"]
    vocabulary = set(scenes.vocabulary())
    for scene in captions:
        assert len(set(scene)) == len(scene), f"reference captions must differ: {scene}"
        for caption in scene:
            assert set(scene_captions.tokenize(caption)) <= vocabulary, caption
    assert {"t-shirt", "trousers", "ankle", "boot", "above", "left"} <= vocabulary


def test_class_words_follow_fashion_mnist_names():
    for name, (singular, plural) in zip(FASHION_CLASSES, scene_captions.CLASS_WORDS):
        stem = name.lower().split("/")[0]
        assert stem in singular and stem in plural and singular != plural


# --- determinism and provenance ---

def test_deterministic_for_a_seed_and_different_across_seeds(smoke_scenes):
    x, y, extras, _ = smoke_scenes
    x2, y2, extras2, _ = fashion_scenes("train", 300, seed=3, profile="smoke")
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    for name in ("masks", "instances", "boxes", "counts", "item_index", "item_scale"):
        np.testing.assert_array_equal(extras[name], extras2[name])
    assert extras["captions"] == extras2["captions"]
    other = fashion_scenes("train", 300, seed=4, profile="smoke")
    assert not np.array_equal(x, other[0]) and extras["captions"] != other[2]["captions"]
    test = fashion_scenes("test", 300, seed=3, profile="smoke")
    assert not np.array_equal(x, test[0])
    # a scene does not depend on how many follow it (across the chunk boundary too)
    part = fashion_scenes("train", 270, seed=3, profile="smoke")
    np.testing.assert_array_equal(part[0], x[:270])
    assert part[2]["captions"] == extras["captions"][:270]


def test_test_split_uses_only_the_test_items():
    calls = []

    def provider(split):
        calls.append(split)
        return _marked_items(100, range(5)) if split == "train" else _marked_items(200, range(5, 10), n=30)

    for split, value, classes, n_items in (("test", 200, range(5, 10), 30), ("train", 100, range(5), 40)):
        x, y, extras, _ = fashion_scenes(split, 60, items=provider)
        assert calls[-1] == split
        assert x.max() == value, "the pixels come from this split's images"
        placed = extras["item_index"] >= 0
        assert extras["item_index"][placed].max() < n_items
        assert set(extras["boxes"][..., 0][placed].astype(int).tolist()) <= set(classes)


def _write_marked_fashion(folder, monkeypatch):
    """Real-format Fashion-MNIST files whose train images are grey 100 (classes 0-4), test images 200 (5-9)."""
    folder.mkdir(parents=True)
    train_x, train_y = _marked_items(100, range(5), n=50)
    test_x, test_y = _marked_items(200, range(5, 10), n=20)
    sums = {}
    for stem, arr in (("train-images-idx3-ubyte", train_x), ("train-labels-idx1-ubyte", train_y),
                      ("t10k-images-idx3-ubyte", test_x), ("t10k-labels-idx1-ubyte", test_y)):
        raw = idx_bytes(arr)
        sums[stem] = storage.sha256_bytes(raw)
        with gzip.open(folder / f"{stem}.gz", "wb") as f:
            f.write(raw)
    monkeypatch.setattr(real, "FASHION_FILES", sums)
    return sums


def test_default_items_come_from_the_real_split(data_home, monkeypatch):
    sums = _write_marked_fashion(data_home / "fashion-mnist", monkeypatch)
    x, y, extras, source = fashion_scenes("test", 40, profile="cpu")
    assert x.max() == 200 and extras["item_index"].max() < 20
    assert set(extras["boxes"][..., 0][extras["item_index"] >= 0].astype(int).tolist()) <= {5, 6, 7, 8, 9}
    assert source.kind == "synthetic" and source.sha256 == sums["t10k-images-idx3-ubyte"]
    assert "Fashion-MNIST test images" in source.origin
    x, *_ = fashion_scenes("train", 40, profile="cpu")
    assert x.max() == 100


def test_substitute_items_in_smoke(smoke_scenes, recwarn):
    source = smoke_scenes[3]
    assert source.kind == "substitute" and "not Fashion-MNIST" in source.note
    assert "SUBSTITUTE" in source.label()
    fashion_scenes("test", 3, profile="smoke")
    assert not [w for w in recwarn if issubclass(w.category, cl.data.SubstituteWarning)]


def test_substitute_items_said_loudly_when_real_data_is_missing(data_home):
    with pytest.warns(cl.data.SubstituteWarning, match="REAL fashion_mnist NOT FOUND"):
        *_, source = fashion_scenes("test", 3, profile="cpu")
    assert source.kind == "substitute"
    with pytest.raises(cl.data.DataError, match="require_real=False"):
        fashion_scenes("test", 3, profile="cpu", require_real=True)


def test_real_fashion_mnist_when_installed():
    if real.find("fashion_mnist", "test") is None:
        pytest.skip("real Fashion-MNIST is not installed")
    x, y, extras, source = fashion_scenes("test", 200, profile="cpu")
    assert source.kind == "synthetic" and source.sha256 == real.FASHION_FILES["t10k-images-idx3-ubyte"]
    assert extras["item_index"].max() < 10000
    np.testing.assert_array_equal(x > scenes.MASK_THRESHOLD, extras["masks"] > 0)
    for i in range(len(x)):                       # the grammar tells the truth about real items too
        cls, cy, cx, areas = _geometry(extras, i)
        assert len(set(extras["captions"][i])) == 5
        for caption in extras["captions"][i]:
            check_caption(caption, cls, cy, cx, areas, y[i], SIZE)


# --- bad input ---

@pytest.mark.parametrize("kwargs,message", [
    ({"size": 30}, r"size=30 is too small for items of up to 34 pixels.*use size >= 34"),
    ({"max_items": 1, "min_items": 2}, r"max_items=1 is below min_items=2; use max_items >= min_items"),
    ({"min_items": 0}, r"min_items must be at least 1, got 0"),
    ({"n": 0}, r"n \(the number of scenes\) must be a positive integer, got 0"),
    ({"n": -3}, r"got -3"),
    ({"split": "val"}, r"split must be 'train' or 'test', got 'val'"),
    ({"seed": -1}, r"seed must be a non-negative integer, got -1"),
    ({"scales": (1.2, 0.6)}, r"scales must satisfy 0 < low <= high, got \(1.2, 0.6\)"),
    ({"background": 40}, r"background must lie in 0..15.*got 40"),
    ({"captions_per_scene": 0}, r"captions_per_scene must be at least 1, got 0"),
    ({"size": 34, "min_items": 4, "scales": (1.2, 1.2)}, r"could not place 4 items.*size=34.*use a larger size"),
    ({"items": (np.zeros((3, 28, 28), np.uint8), np.array([0, 1, 12]))}, r"class ids in 0..9.*0..12"),
    ({"items": (np.zeros((3, 28), np.uint8), np.zeros(3))}, r"\(N, H, W\) uint8 array, got \(3, 28\)"),
])
def test_bad_input_names_the_value_and_the_fix(kwargs, message):
    args = {"split": "train", "n": 4, "profile": "smoke"} | kwargs
    with pytest.raises(cl.data.DataError, match=message):
        fashion_scenes(**args)


def test_registered_in_the_data_registry():
    """Active once the registry knows the generator: load() passes the options through."""
    if "fashion_scenes" not in cl.data.names():
        pytest.skip("fashion_scenes is not registered yet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cl.data.SubstituteWarning)
        data = cl.data.load("fashion_scenes", split="test", n=6, size=48, max_items=3)
    assert data.x.shape == (6, 48, 48) and data.extras["boxes"].shape == (6, 3, 5)
    assert len(data.extras["captions"]) == 6 and data.source.name == "fashion_scenes"
