"""Readers for the real data sets, in their original file formats, with SHA-256 checks.

Nothing here downloads by itself: `find()` searches the folders of `files.search_dirs()`
and `download()` asks Keras to fetch into its cache (only when not offline).

Checksums: Fashion-MNIST's are of the *decompressed* IDX files, so a copy recompressed by
a packager (Debian's differs byte for byte from Zalando's ``.gz``) still checks out.
The others are of the archives Keras downloads.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import io
import pathlib
import pickle
import tarfile
from typing import Callable

import numpy as np

from course_lib import storage
from course_lib.data import files
from course_lib.data.source import DataError, Source

FASHION_FILES = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

# SHA-256 of the archives as Keras downloads them (the same sums keras.datasets checks).
ARCHIVES = {
    "mnist": ("mnist.npz", "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"),
    "cifar10": ("cifar-10-python.tar.gz", "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"),
    "cifar100": ("cifar-100-python.tar.gz", "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"),
}

def _corrupt(path, got: str, want: str, name: str) -> DataError:
    return DataError(
        f"{path}: SHA-256 is {got[:16]}..., expected {want[:16]}... for {name}; the file is corrupt, "
        f"truncated or not the published data set. Delete it and run `course data check {name}` "
        f"(or reinstall the package it came from, e.g. `apt-get install --reinstall dataset-fashion-mnist`)."
    )


# --- Fashion-MNIST: four IDX files, plain or gzipped ---

def _read_maybe_gz(path: pathlib.Path, name: str) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError) as exc:
        raise DataError(
            f"{path}: cannot be read as {name} data ({exc}); the file is truncated or corrupt. "
            f"Delete it and fetch it again (`course data path {name}` shows where it is looked for)."
        ) from exc


def parse_idx(raw: bytes, path="<bytes>") -> np.ndarray:
    """Decode an IDX file (the MNIST format): magic, dimensions, then unsigned bytes."""
    if len(raw) < 8 or raw[0:2] != b"\x00\x00" or raw[2] != 0x08:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(raw) - offset != expected:
        raise DataError(f"{path}: IDX header promises {dims} = {expected} bytes but holds {len(raw) - offset}; the file is truncated")
    return np.frombuffer(raw, np.uint8, offset=offset).reshape(dims)


def _find_idx(folder: pathlib.Path, stem: str) -> pathlib.Path | None:
    for candidate in (folder / (stem + ".gz"), folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _fashion_folder(folder: pathlib.Path, split: str | None = None) -> dict[str, pathlib.Path] | None:
    """The IDX files in `folder`: all four, or only those of `split` (a grader shows only the training files)."""
    prefix = {"train": "train-", "test": "t10k-"}.get(split, "")
    found = {stem: _find_idx(folder, stem) for stem in FASHION_FILES if stem.startswith(prefix)}
    if any(p is None for p in found.values()):
        return None
    return found


def load_fashion_mnist(location: dict[str, pathlib.Path], split: str, verify: bool = True):
    prefix = "train" if split == "train" else "t10k"
    arrays, sums = {}, []
    for part in ("images", "labels"):
        stem = f"{prefix}-{part}-idx{3 if part == 'images' else 1}-ubyte"
        path = location[stem]
        raw = _read_maybe_gz(path, "fashion_mnist")
        digest = storage.sha256_bytes(raw)
        if verify and digest != FASHION_FILES[stem]:
            raise _corrupt(path, digest, FASHION_FILES[stem], "fashion_mnist")
        arrays[part] = parse_idx(raw, path)
        sums.append(digest)
    x, y = arrays["images"], arrays["labels"]
    if len(x) != len(y):
        raise DataError(f"{location}: {len(x)} images but {len(y)} labels; the files do not belong together")
    folder = location[next(iter(location))].parent
    return x, y, Source("fashion_mnist", "real", str(folder), sha256=sums[0])


# --- MNIST: Keras' mnist.npz ---

def load_mnist(path: pathlib.Path, split: str, verify: bool = True):
    want = ARCHIVES["mnist"][1]
    digest = storage.sha256_file(path)
    if verify and digest != want:
        raise _corrupt(path, digest, want, "mnist")
    key = "train" if split == "train" else "test"
    try:
        with np.load(path, allow_pickle=False) as f:
            x, y = f[f"x_{key}"], f[f"y_{key}"]
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{path}: not a readable mnist.npz ({exc}); delete it and fetch it again") from exc
    return x, y, Source("mnist", "real", str(path), sha256=digest)


# --- CIFAR-10/100: the python pickles, inside the archive or an extracted folder ---

class _SafeUnpickler(pickle.Unpickler):
    """Unpickles only what CIFAR batches hold: dicts, lists, bytes, and NumPy arrays."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch file")


def _unpickle(raw: bytes, where) -> dict:
    try:
        d = _SafeUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as exc:
        raise DataError(f"{where}: not a CIFAR batch file ({exc}); delete it and fetch the archive again") from exc
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in d.items()}


def _cifar_batches(name: str, split: str, label_key: str):
    if name == "cifar10":
        return ([f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]), "labels"
    return (["train"] if split == "train" else ["test"]), label_key


def _decode_cifar(batches: list[dict], key: str, where) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for b in batches:
        if "data" not in b or key not in b:
            raise DataError(f"{where}: a batch lacks 'data' or '{key}'; not a CIFAR python batch")
        data = np.asarray(b["data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3072:
            raise DataError(f"{where}: batch data has shape {data.shape}, expected (N, 3072)")
        xs.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        ys.append(np.asarray(b[key], dtype=np.uint8))
    return np.concatenate(xs), np.concatenate(ys)


def load_cifar(name: str, location: pathlib.Path, split: str, verify: bool = True, label_mode: str = "fine"):
    if label_mode not in ("fine", "coarse"):
        raise DataError(f"label_mode must be 'fine' or 'coarse', got {label_mode!r}")
    members, key = _cifar_batches(name, split, f"{label_mode}_labels")
    if location.is_file():
        want = ARCHIVES[name][1]
        digest = storage.sha256_file(location)
        if verify and digest != want:
            raise _corrupt(location, digest, want, name)
        try:
            with tarfile.open(location, "r:gz") as tar:
                by_base = {pathlib.PurePosixPath(m.name).name: m for m in tar.getmembers() if m.isfile()}
                batches = []
                for member in members:
                    if member not in by_base:
                        raise DataError(f"{location}: archive has no member '{member}'; not the {name} python archive")
                    batches.append(_unpickle(tar.extractfile(by_base[member]).read(), f"{location}:{member}"))
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DataError(f"{location}: cannot be read as a tar.gz archive ({exc}); it is truncated or corrupt. Delete it and fetch it again.") from exc
        note = ""
    else:
        batches = []
        for member in members:
            p = location / member
            if not p.is_file():
                raise DataError(f"{location}: missing '{member}'; the extracted {name} folder is incomplete. Delete it and fetch the archive again.")
            batches.append(_unpickle(p.read_bytes(), p))
        digest = None
        note = "extracted folder: contents checked for shape, no published checksum to compare"
    x, y = _decode_cifar(batches, key, location)
    return x, y, Source(name, "real", str(location), sha256=digest, note=note)


# --- one record per real data set: where it sits, how to find and read it ---

@dataclasses.dataclass(frozen=True)
class RealFormat:
    """How one real data set is stored: the sub-folders it may sit in below each search folder,
    a function that finds its files in one folder, the reader, and the hint for a missing copy."""

    name: str
    subdirs: tuple[str, ...]
    locate: Callable        # (folder, split or None) -> location or None
    read: Callable          # (location, split, verify, **options) -> (x, y, Source)
    hint: str


def _archive_locator(name: str, extracted: tuple[str, ...] = ()):
    def locate(folder: pathlib.Path, split=None):
        archive = folder / ARCHIVES[name][0]
        if archive.is_file():
            return archive
        for sub in extracted:
            if (folder / sub).is_dir():
                return folder / sub
        return None
    return locate


def _archive_hint(name: str) -> str:
    return f"put {ARCHIVES[name][0]} into {files.keras_cache_dir()} or $COURSE_DATA_DIR"


FORMATS = {
    "fashion_mnist": RealFormat(
        "fashion_mnist", ("fashion-mnist", "fashion_mnist", "datasets/fashion-mnist"), _fashion_folder,
        load_fashion_mnist,
        "install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or set COURSE_DATA_DIR"),
    "mnist": RealFormat("mnist", ("", "mnist"), _archive_locator("mnist"), load_mnist, ""),
    "cifar10": RealFormat(
        "cifar10", ("", "cifar10", "cifar-10"),
        _archive_locator("cifar10", ("cifar-10-batches-py", "cifar-10-batches-py-target/cifar-10-batches-py")),
        functools.partial(load_cifar, "cifar10"), ""),
    "cifar100": RealFormat(
        "cifar100", ("", "cifar100", "cifar-100"),
        _archive_locator("cifar100", ("cifar-100-python", "cifar-100-python-target/cifar-100-python")),
        functools.partial(load_cifar, "cifar100"), ""),
}
NAMES = tuple(FORMATS)


def _format(name: str) -> RealFormat:
    if name not in FORMATS:
        raise DataError(f"{name!r} is not a real data set the course reads; real ones: {', '.join(NAMES)}")
    return FORMATS[name]


def find(name: str, split: str | None = None) -> pathlib.Path | dict | None:
    """The first location of real data for `name` in the search folders, or ``None``.

    With `split`, a Fashion-MNIST folder needs only that split's two files."""
    fmt = _format(name)
    for base in files.search_dirs():
        for sub in fmt.subdirs:
            folder = base / sub if sub else base
            if folder.is_dir():
                found = fmt.locate(folder, split)
                if found:
                    return found
    return None


def describe(location) -> str:
    if isinstance(location, dict):
        return str(next(iter(location.values())).parent)
    return str(location)


def read(name: str, location, split: str, verify: bool = True, **options):
    """``(x, y, Source)`` of `split` from the `location` that `find` returned."""
    return _format(name).read(location, split, verify=verify, **options)


def download(name: str) -> None:
    """Let Keras download `name` into its cache (raises when there is no network)."""
    import keras

    getattr(keras.datasets, _format(name).name).load_data()


def check(name: str) -> tuple[str, str]:
    """(status, detail) for `course data check`: ``real``/``missing``/``corrupt``."""
    location = find(name)
    if location is None:
        return "missing", "not found in " + ", ".join(str(d) for d in files.search_dirs())
    try:
        for split in ("train", "test"):
            read(name, location, split)
    except DataError as exc:
        return "corrupt", str(exc)
    return "real", describe(location)


def search_report(name: str) -> str:
    dirs = [str((d / s) if s else d) for d in files.search_dirs() for s in _format(name).subdirs]
    return ", ".join(dirs)


def env_hint(name: str) -> str:
    return _format(name).hint or _archive_hint(name)


__all__ = ["find", "read", "download", "check", "parse_idx", "NAMES", "FORMATS", "FASHION_FILES", "ARCHIVES"]
