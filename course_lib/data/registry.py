"""`load(name, split, limit)`: one entry point for every data set of the course.

Real data sets (``fashion_mnist``, ``mnist``, ``cifar10``, ``cifar100``) are searched for in
``$COURSE_DATA_DIR``, Keras' cache and system folders, then downloaded by Keras unless
``$COURSE_OFFLINE`` is set. Where no real copy can be had: the ``smoke`` profile uses the
embedded substitute quietly, ``cpu``/``gpu`` use it with a loud warning, and
``require_real=True`` raises instead.
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from typing import Callable

from course_lib import config
from course_lib.data import embedded, files, real, synthetic
from course_lib.data.source import Data, DataError, Source, check_limit

SPLITS = ("train", "test")


class SubstituteWarning(UserWarning):
    """Raised as a warning when a stand-in replaces a real data set."""


@dataclasses.dataclass(frozen=True)
class Entry:
    name: str
    kind: str            # real | embedded | synthetic
    description: str
    class_names: list[str] | None = None
    substitute: Callable | None = None
    sizes: dict | None = None   # default example counts per profile for generated data


def _sizes(smoke, cpu, gpu=None):
    return {"smoke": smoke, "cpu": cpu, "gpu": gpu or cpu}


REGISTRY: dict[str, Entry] = {}


def _register(entry: Entry) -> None:
    REGISTRY[entry.name] = entry


_register(Entry("fashion_mnist", "real", "Zalando's Fashion-MNIST: 28x28 grey clothing, 60k/10k, 10 classes",
                embedded.FASHION_CLASSES, embedded.fashion_substitute,
                {"train": _sizes(1000, 12000), "test": _sizes(250, 2000)}))
_register(Entry("mnist", "real", "MNIST handwritten digits: 28x28 grey, 60k/10k, 10 classes",
                [str(i) for i in range(10)], embedded.mnist_substitute,
                {"train": _sizes(1000, 12000), "test": _sizes(250, 2000)}))
_register(Entry("cifar10", "real", "CIFAR-10: 32x32 colour, 50k/10k, 10 classes",
                embedded.CIFAR10_CLASSES, lambda split, n, seed=0: embedded.cifar_substitute(split, n, 10, seed),
                {"train": _sizes(500, 5000), "test": _sizes(200, 1000)}))
_register(Entry("cifar100", "real", "CIFAR-100: 32x32 colour, 50k/10k, 100 fine / 20 coarse classes",
                None, lambda split, n, seed=0: embedded.cifar_substitute(split, n, 100, seed),
                {"train": _sizes(1000, 10000), "test": _sizes(200, 2000)}))
_register(Entry("digits", "embedded", "scikit-learn's 8x8 handwritten digits, 1797 images, 10 classes",
                [str(i) for i in range(10)]))
_register(Entry("images", "embedded", "named photographs and textures from scikit-image and scikit-learn "
                "(load('images', image='chelsea'))"))
_register(Entry("shapes", "synthetic", "scenes of coloured shapes with labels, masks, boxes and captions",
                synthetic.SHAPE_CLASSES, sizes={"train": _sizes(200, 4000), "test": _sizes(50, 1000)}))
for _name in synthetic.TOY_SETS:
    _register(Entry(_name, "synthetic", f"2-D toy set '{_name}': points and two classes", ["0", "1"],
                    sizes={"train": _sizes(200, 1000), "test": _sizes(100, 500)}))
for _name in synthetic.SEQUENCE_TASKS:
    _register(Entry(_name, "synthetic", f"sequence task '{_name}'",
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


def _announce_substitute(name: str, why: str) -> None:
    msg = (f"course_lib: REAL {name} NOT FOUND ({why}); using the embedded SUBSTITUTE. "
           f"Results will not match the lecture. Fix: {real.env_hint(name)}.")
    print("!" * 8 + " " + msg, file=sys.stderr)
    warnings.warn(msg, SubstituteWarning, stacklevel=3)


def _load_real(entry: Entry, split: str, profile: str, require_real: bool, n, seed, options) -> Data:
    name = entry.name
    if require_real or profile != "smoke":
        location = real.find(name, split)
        why = "searched " + real.search_report(name)
        if location is None and files.offline():
            why += "; COURSE_OFFLINE is set, no download tried"
        elif location is None:
            try:
                real.download(name)
                location = real.find(name, split)
            except Exception as exc:  # no network: the substitute (or an error) follows
                why += f"; download failed ({type(exc).__name__})"
        if location is not None:
            x, y, source = real.read(name, location, split, **options)
            return Data(x, y, source, entry.class_names)
        if require_real:
            raise DataError(f"real {name} not found ({why}); {real.env_hint(name)}, "
                            f"or pass require_real=False to use the substitute")
        _announce_substitute(name, why)
    count = n or entry.sizes[split][profile]
    x, y, source = entry.substitute(split, count, seed=seed)
    return Data(x, y, source, entry.class_names)


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
    if entry.kind == "real":
        data = _load_real(entry, split, profile, require_real, n, seed, options)
    elif name == "digits":
        x, y, source = embedded.digits(split)
        data = Data(x, y, source, entry.class_names)
    elif name == "images":
        image_name = options.pop("image", None)
        if image_name is None:
            raise DataError(f"load('images') needs image=...; choose one of: {', '.join(embedded.IMAGE_NAMES)}")
        x, source = embedded.image(image_name)
        data = Data(x, None, source)
    else:
        count = n or entry.sizes[split][profile]
        if name == "shapes":
            x, y, extras, source = synthetic.shapes(split, count, seed=seed, **options)
            data = Data(x, y, source, entry.class_names, extras)
        elif name in synthetic.TOY_SETS:
            x, y, source = synthetic.toy2d(name, split, count, seed=seed, **options)
            data = Data(x, y, source, entry.class_names)
        else:
            x, y, source = synthetic.sequence(name, split, count, seed=seed, **options)
            data = Data(x, y, source)
    return data.take(limit)


__all__ = ["load", "names", "info", "REGISTRY", "SubstituteWarning", "Data", "DataError", "Source"]
