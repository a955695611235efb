"""Sentences that describe a Fashion-MNIST scene, from a small grammar whose every claim is true.

A scene is a list of items, each with a class, a box and a visible area. The grammar names
the items by class ("a bag", "two sneakers", "an ankle boot") and says how they relate:

    a sandal to the left of a bag             relations from box centres
    a bag above two sneakers
    a large coat and a small shirt            size words from visible areas
    three items: a dress, a bag and a pair of trousers
    from left to right: a shirt, a coat and a sandal
    a bag in the top left corner              positions from the canvas' thirds
    the largest item is a coat

A noun phrase always stands for every item of its class in the scene: "a bag" is said only
when the scene has exactly one bag, "two sneakers" only when it has exactly two. So a
relation between two phrases holds for every pair of items they name, and a reader (or a
test) can check each sentence against the boxes.

`describe()` returns several reference captions per scene, drawn from different sentence
forms, as BLEU wants. `vocabulary()` lists every word the grammar can produce.
"""

from __future__ import annotations

import itertools
import re

import numpy as np

from course_lib.data.embedded import FASHION_CLASSES

# Fashion-MNIST's classes as nouns (singular, plural); the class id is the index.
CLASS_WORDS = (
    ("t-shirt", "t-shirts"),                     # T-shirt/top
    ("pair of trousers", "pairs of trousers"),   # Trouser
    ("pullover", "pullovers"),
    ("dress", "dresses"),
    ("coat", "coats"),
    ("sandal", "sandals"),
    ("shirt", "shirts"),
    ("sneaker", "sneakers"),
    ("bag", "bags"),
    ("ankle boot", "ankle boots"),
)
CLASS_NAME_WORDS = dict(zip(FASHION_CLASSES, CLASS_WORDS))   # "T-shirt/top" -> ("t-shirt", "t-shirts"), ...
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
                "nineteen", "twenty")
MAX_ITEMS = len(NUMBER_WORDS) - 1

RELATIONS = ("to the left of", "to the right of", "above", "below")
RELATION_MARGIN = 0.08   # centres at least this fraction of the canvas apart along the relation's axis
SIZE_RATIO = 2.0         # "a large A and a small B": visible areas at least this ratio apart
LARGEST_RATIO = 1.25     # "the largest item is ...": this much larger than every other item
# Thirds of the canvas, with gaps between them where no position word is used.
BANDS = ((0.0, 0.38), (0.42, 0.58), (0.62, 1.0))
POSITIONS = {
    (0, 0): "in the top left corner", (0, 1): "at the top", (0, 2): "in the top right corner",
    (1, 0): "on the left", (1, 1): "in the middle", (1, 2): "on the right",
    (2, 0): "in the bottom left corner", (2, 1): "at the bottom", (2, 2): "in the bottom right corner",
}

# Every fixed phrase the forms below use (for `vocabulary()`).
_PHRASES = (RELATIONS + tuple(POSITIONS.values()) + (
    "a an and large small single items from left to right top to bottom the largest item is",
    "a picture of an image of there is are on its own on a dark background side by side one above the other"))


def noun_phrase(cls: int, k: int = 1, adjective: str = "") -> str:
    """``"a bag"``, ``"an ankle boot"``, ``"a large coat"``, ``"two sneakers"``: `k` items of class `cls`."""
    singular, plural = CLASS_WORDS[cls]
    if k != 1:
        return f"{_number(k)} {plural}"
    words = f"{adjective} {singular}" if adjective else singular
    return f"{'an' if words[0] in 'aeiou' else 'a'} {words}"


def _number(k: int) -> str:
    return NUMBER_WORDS[k] if k < len(NUMBER_WORDS) else str(k)


def _join(phrases) -> str:
    phrases = list(phrases)
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _band(value: float, size: int):
    f = value / size
    for i, (lo, hi) in enumerate(BANDS):
        if lo <= f <= hi:
            return i
    return None


def candidates(classes, boxes, areas, size: int) -> dict[str, list[str]]:
    """Every true caption of one scene, by sentence form.

    Args:
        classes: ``(k,)`` class ids of the items, in drawing order.
        boxes: ``(k, 4)`` visible boxes ``[y0, x0, y1, x1]`` in pixels (end exclusive).
        areas: ``(k,)`` visible pixels of each item.
        size: side of the canvas in pixels.

    Returns:
        ``{form: [caption, ...]}``; forms with nothing true to say are left out.
    """
    classes = [int(c) for c in classes]
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    areas = [float(a) for a in areas]
    k = len(classes)
    if k == 0:
        return {}
    cy = ((boxes[:, 0] + boxes[:, 2]) / 2).tolist()
    cx = ((boxes[:, 1] + boxes[:, 3]) / 2).tolist()
    margin = RELATION_MARGIN * size
    groups = {}                                   # class -> member indices, in order of first appearance
    for i, c in enumerate(classes):
        groups.setdefault(c, []).append(i)
    order = list(groups)
    np_of = {c: noun_phrase(c, len(groups[c])) for c in order}
    singles = [c for c in order if len(groups[c]) == 1]
    forms: dict[str, list[str]] = {}

    def add(form, text):
        forms.setdefault(form, []).append(text)

    def holds(a_members, b_members, axis):        # every a before every b along `axis` (x: left of, y: above)
        main, other = (cx, cy) if axis == "x" else (cy, cx)
        return all(main[b] - main[a] >= margin and abs(main[b] - main[a]) >= 0.5 * abs(other[b] - other[a])
                   for a in a_members for b in b_members)

    # lists of all items, in several orders
    for perm in itertools.islice(itertools.permutations(order), 8):
        add("list", _join(np_of[c] for c in perm))
    everything = _join(np_of[c] for c in order)
    add("picture", f"a picture of {everything}")
    add("picture", f"an image of {everything}")
    add("picture", f"{everything} on a dark background")
    if len(order) == 1:
        add("there", f"there {'is' if k == 1 else 'are'} {everything}")
    if len(order) >= 2:
        for perm in itertools.islice(itertools.permutations(order), 6):
            add("count", f"{_number(k)} items: {_join(np_of[c] for c in perm)}")
        for axis, words in (("x", "from left to right"), ("y", "from top to bottom")):
            centre = cx if axis == "x" else cy
            seq = sorted(order, key=lambda c: sum(centre[i] for i in groups[c]) / len(groups[c]))
            if all(holds(groups[a], groups[b], axis) for a, b in zip(seq, seq[1:])):
                add("order", f"{words}: {_join(np_of[c] for c in seq)}")
    # relations between two groups
    for a, b in itertools.permutations(order, 2):
        for axis, forward, backward in (("x", "to the left of", "to the right of"), ("y", "above", "below")):
            if holds(groups[a], groups[b], axis):
                add("relation", f"{np_of[a]} {forward} {np_of[b]}")
                add("relation", f"{np_of[b]} {backward} {np_of[a]}")
    # sizes, positions, the largest item
    for a, b in itertools.permutations(singles, 2):
        i, j = groups[a][0], groups[b][0]
        if areas[i] >= SIZE_RATIO * areas[j]:
            add("size", f"{noun_phrase(a, 1, 'large')} and {noun_phrase(b, 1, 'small')}")
            add("size", f"{noun_phrase(b, 1, 'small')} and {noun_phrase(a, 1, 'large')}")
    placed = {}
    for c in singles:
        i = groups[c][0]
        row, col = _band(cy[i], size), _band(cx[i], size)
        if row is not None and col is not None:
            placed[c] = POSITIONS[row, col]
            add("position", f"{np_of[c]} {placed[c]}")
            add("position", f"there is {np_of[c]} {placed[c]}")
    if k == 2 and len(placed) == 2:
        a, b = order
        add("position", f"{np_of[a]} {placed[a]} and {np_of[b]} {placed[b]}")
        add("position", f"{np_of[b]} {placed[b]} and {np_of[a]} {placed[a]}")
    if k >= 2:
        top = int(np.argmax(areas))
        others = areas[:top] + areas[top + 1:]
        if len(groups[classes[top]]) == 1 and areas[top] >= LARGEST_RATIO * max(others):
            add("largest", f"the largest item is {np_of[classes[top]]}")
    else:
        singular = CLASS_WORDS[classes[0]][0]
        for text in (f"one {singular}", f"a single {singular}", f"{np_of[classes[0]]} on its own"):
            add("alone", text)
    # two items of one class
    for c in order:
        if len(groups[c]) == 2:
            i, j = groups[c]
            dy, dx = abs(cy[i] - cy[j]), abs(cx[i] - cx[j])
            if dx >= margin and dx >= dy:
                add("pair", f"{np_of[c]} side by side")
            if dy >= margin and dy >= dx:
                add("pair", f"{np_of[c]}, one above the other")
    return forms


def describe(classes, boxes, areas, size: int, rng: np.random.Generator, count: int = 5) -> list[str]:
    """`count` reference captions of one scene, drawn from as many sentence forms as possible.

    Distinct while the grammar has enough to say (it has at least five true sentences for
    every scene); beyond that, captions repeat. Arguments as for `candidates`.
    """
    forms = candidates(classes, boxes, areas, size)
    pools = [list(dict.fromkeys(forms[f])) for f in forms]
    for pool in pools:
        rng.shuffle(pool)
    chosen: list[str] = []
    while len(chosen) < count and any(pools):
        for p in rng.permutation(len(pools)):
            while pools[p] and pools[p][-1] in chosen:
                pools[p].pop()
            if pools[p] and len(chosen) < count:
                chosen.append(pools[p].pop())
    for i in range(count - len(chosen)):      # the grammar ran out: repeat what it said
        chosen.append(chosen[i % len(chosen)])
    return chosen


_TOKEN = re.compile(r"[^\s,:]+")


def tokenize(caption: str) -> list[str]:
    """The words of a caption: lower case, split at spaces, commas and colons dropped.

    Keras' ``TextVectorization`` with its default standardization also strips the hyphen
    ("t-shirt" becomes "tshirt"); every other word stays as it is.
    """
    return _TOKEN.findall(caption.lower())


def vocabulary(max_items: int = MAX_ITEMS) -> list[str]:
    """Every word the grammar can produce for scenes of up to `max_items` items, sorted."""
    words = set()
    for phrase in _PHRASES + tuple(s for pair in CLASS_WORDS for s in pair):
        words.update(tokenize(phrase))
    words.update(_number(k) for k in range(1, max_items + 1))
    return sorted(words)
