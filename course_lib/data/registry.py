"""`load(name, split, limit)`: one entry point for every data set of the course.

Real data sets (``fashion_mnist``, ``mnist``, ``cifar10``, ``cifar100``) are searched for in
``$COURSE_DATA_DIR``, Keras' cache and system folders, then downloaded by Keras unless
``$COURSE_OFFLINE`` is set. Where no real copy can be had: the ``smoke`` profile uses the
embedded substitute quietly, ``cpu``/``gpu`` use it with a loud warning, and
``require_real=True`` raises instead.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from course_lib import config
from course_lib.data import embedded, fallback, scenes, synthetic
from course_lib.data.fallback import SubstituteWarning
from course_lib.data.source import Data, DataError, Source, check_limit

SPLITS = ("train", "test")


@dataclasses.dataclass(frozen=True)
class Request:
    """What `load` was asked, as a loader sees it: the split, how many examples to make, the
    seed, the profile, whether real data is required, and the loader's own options."""

    entry: "Entry"
    split: str
    n: int | None
    seed: int
    profile: str
    require_real: bool
    options: dict

    @property
    def count(self) -> int:
        """Examples to generate: `n` if given, else the entry's default for this split and profile."""
        return self.n or self.entry.sizes[self.split][self.profile]


@dataclasses.dataclass(frozen=True)
class Entry:
    """One data set of the registry, carrying its own loader ``loader(request) -> Data``.

    Args:
        name: the name `load` takes.
        kind: ``real`` (a published data set, with an embedded `substitute`), ``embedded``
            (shipped with an installed package) or ``synthetic`` (generated).
        description: one line for ``course data list``.
        loader: builds the `Data` for a `Request`.
        class_names: names of the label values, where there are labels.
        substitute: for real data, ``substitute(split, n, seed=) -> (x, y, Source)``.
        sizes: default example counts, ``{split: {profile: n}}``, for generated data.
    """

    name: str
    kind: str
    description: str
    loader: Callable[[Request], Data]
    class_names: list[str] | None = None
    substitute: Callable | None = None
    sizes: dict | None = None


def _sizes(smoke, cpu, gpu=None):
    return {"smoke": smoke, "cpu": cpu, "gpu": gpu or cpu}


def load_real(req: Request) -> Data:
    """A real data set where it can be found; else the substitute (quietly in smoke, loudly otherwise)."""
    entry = req.entry
    return fallback.real_or_substitute(entry.name, req.split, profile=req.profile, require_real=req.require_real,
                                       substitute=entry.substitute, count=req.n or entry.sizes[req.split][req.profile],
                                       class_names=entry.class_names, seed=req.seed, **req.options)


def _load_digits(req: Request) -> Data:
    x, y, source = embedded.digits(req.split)
    return Data(x, y, source, req.entry.class_names)


def _load_image(req: Request) -> Data:
    name = req.options.get("image")
    if name is None:
        raise DataError(f"load('images') needs image=...; choose one of: {', '.join(embedded.IMAGE_NAMES)}")
    x, source = embedded.image(name)
    return Data(x, None, source)


def _load_shapes(req: Request) -> Data:
    x, y, extras, source = synthetic.shapes(req.split, req.count, seed=req.seed, **req.options)
    return Data(x, y, source, req.entry.class_names, extras)


def _load_scenes(req: Request) -> Data:
    x, y, extras, source = scenes.fashion_scenes(req.split, req.count, seed=req.seed, profile=req.profile,
                                                 require_real=req.require_real, **req.options)
    return Data(x, y, source, req.entry.class_names, extras)


def _load_toy(req: Request) -> Data:
    x, y, source = synthetic.toy2d(req.entry.name, req.split, req.count, seed=req.seed, **req.options)
    return Data(x, y, source, req.entry.class_names)


def _load_sequence(req: Request) -> Data:
    x, y, source = synthetic.sequence(req.entry.name, req.split, req.count, seed=req.seed, **req.options)
    return Data(x, y, source)


REGISTRY: dict[str, Entry] = {}


def register(entry: Entry) -> Entry:
    """Add `entry` to the registry (replacing one of the same name) and return it."""
    REGISTRY[entry.name] = entry
    return entry


register(Entry("fashion_mnist", "real", "Zalando's Fashion-MNIST: 28x28 grey clothing, 60k/10k, 10 classes",
               load_real, embedded.FASHION_CLASSES, embedded.fashion_substitute,
               {"train": _sizes(1000, 12000), "test": _sizes(250, 2000)}))
register(Entry("mnist", "real", "MNIST handwritten digits: 28x28 grey, 60k/10k, 10 classes",
               load_real, [str(i) for i in range(10)], embedded.mnist_substitute,
               {"train": _sizes(1000, 12000), "test": _sizes(250, 2000)}))
register(Entry("cifar10", "real", "CIFAR-10: 32x32 colour, 50k/10k, 10 classes",
               load_real, embedded.CIFAR10_CLASSES,
               lambda split, n, seed=0: embedded.cifar_substitute(split, n, 10, seed),
               {"train": _sizes(500, 5000), "test": _sizes(200, 1000)}))
register(Entry("cifar100", "real", "CIFAR-100: 32x32 colour, 50k/10k, 100 fine / 20 coarse classes",
               load_real, None, lambda split, n, seed=0: embedded.cifar_substitute(split, n, 100, seed),
               {"train": _sizes(1000, 10000), "test": _sizes(200, 2000)}))
register(Entry("digits", "embedded", "scikit-learn's 8x8 handwritten digits, 1797 images, 10 classes",
               _load_digits, [str(i) for i in range(10)]))
register(Entry("images", "embedded", "named photographs and textures from scikit-image, scikit-learn and "
               "matplotlib (load('images', image='chelsea'))", _load_image))
register(Entry("shapes", "synthetic", "scenes of coloured shapes with labels, masks, boxes and captions",
               _load_shapes, synthetic.SHAPE_CLASSES, sizes={"train": _sizes(200, 4000), "test": _sizes(50, 1000)}))
register(Entry("fashion_scenes", "synthetic",
               "real Fashion-MNIST items on a 64x64 canvas: class and instance masks, boxes, 5 captions per scene "
               "(the test split uses only test images; options size, max_items, min_items, scales)",
               _load_scenes, embedded.FASHION_CLASSES,
               sizes={"train": _sizes(200, 5000, 20000), "test": _sizes(50, 1000, 5000)}))
for _name in synthetic.TOY_SETS:
    register(Entry(_name, "synthetic", f"2-D toy set '{_name}': points and two classes", _load_toy, ["0", "1"],
                   sizes={"train": _sizes(200, 1000), "test": _sizes(100, 500)}))
for _name in synthetic.SEQUENCE_TASKS:
    register(Entry(_name, "synthetic", f"sequence task '{_name}'", _load_sequence,
                   sizes={"train": _sizes(200, 5000), "test": _sizes(100, 1000)}))


def names() -> list[str]:
    """Registered data set names (plus ``tfds:<name>`` for any TensorFlow Datasets set)."""
    return list(REGISTRY)


def info(name: str) -> Entry:
    """The registry entry of `name`, or a `DataError` listing the known names."""
    if name in REGISTRY:
        return REGISTRY[name]
    import difflib

    close = difflib.get_close_matches(name, REGISTRY, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise DataError(f"unknown data set {name!r}{hint} Known: {', '.join(REGISTRY)}, or 'tfds:<name>'.")


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise DataError(f"split must be one of {SPLITS}, got {split!r}")
    return split


def load(name: str, split: str = "train", limit: int | None = None, *, profile: str | None = None,
         require_real: bool = False, seed: int = 0, n: int | None = None, **options) -> Data:
    """Load a data set as NumPy arrays with a `Source` record.

    Args:
        name: a registered name (``course data list``) or ``"tfds:<name>"``.
        split: ``"train"`` or ``"test"`` (TFDS accepts its own split strings).
        limit: keep only the first `limit` examples; ``None`` keeps all.
        profile: decides real against substitute; default the current profile.
        require_real: raise instead of substituting when the real data is missing.
        seed: seed of generated and substitute data.
        n: number of examples to generate (synthetic and substitute data).
        **options: passed on: ``image=`` for ``images``; ``size``, ``max_shapes`` for
            ``shapes``; ``noise`` for the toy sets; ``length`` for sequences;
            ``label_mode`` for ``cifar100``; ``data_dir`` for TFDS.

    Returns:
        A `Data`: ``.x``, ``.y``, ``.source``, ``.class_names``, ``.extras``; unpacks as ``x, y``.

    Example:
        >>> x, y = load("xor", n=8)
        >>> x.shape, y.shape
        ((8, 2), (8,))
    """
    if limit is not None:
        check_limit(limit)
    if n is not None:
        n = check_limit(n)
    profile = config.check_profile(profile) if profile is not None else config.current_profile()
    if name.startswith("tfds:"):
        from course_lib.data import tfds_source

        return tfds_source.load(name[5:], split, **options).take(limit)
    entry = info(name)
    _check_split(split)
    data = entry.loader(Request(entry, split, n, seed, profile, require_real, options))
    return data.take(limit)


__all__ = ["load", "names", "info", "register", "REGISTRY", "Entry", "Request", "SubstituteWarning", "Data", "DataError",
           "Source"]
