"""Read PyTorch ``.pth`` files into NumPy arrays, without PyTorch and without trusting the file.

`torch.save` writes one of two formats:

- the **zip** format (PyTorch >= 1.6): a zip archive holding ``<name>/data.pkl`` (a pickle whose
  tensors refer to storages by key) and one raw little-endian file ``<name>/data/<key>`` per storage;
- the **legacy** format: five pickles in a row (magic number, protocol version, system info, the
  object, the list of storage keys), then for each storage an int64 element count and its raw bytes.

Either way the object is a pickle, and unpickling runs whatever callables the file names. The
reader here uses a restricted unpickler that resolves only the handful of names a state dict
needs (``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2``,
``torch._utils._rebuild_parameter`` and the ``torch.*Storage`` type tags), each to a harmless
stand-in defined below; any other name, and any persistent id other than a storage, is refused
with a `TorchFileError` before anything is called.

    >>> tensors = read_state_dict("efficientnet-lite0-57934424.pth")   # doctest: +SKIP
    >>> tensors["_conv_stem.weight"].shape                              # doctest: +SKIP
    (32, 3, 3, 3)
"""

from __future__ import annotations

import collections
import io
import os
import pathlib
import pickle
import struct
import zipfile

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# torch.<Name>Storage -> the NumPy dtype of its elements (bfloat16 is widened to float32 on read).
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class TorchFileError(ValueError):
    """A ``.pth`` file that cannot be read, or that asks for more than a state dict needs."""


class _StorageType:
    """What ``torch.FloatStorage`` and friends resolve to: only a name, never the class."""

    def __init__(self, name: str):
        self.name = name
        dtype = STORAGE_DTYPES[name]
        self.itemsize = 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize


class _Storage:
    """A flat buffer of one dtype; filled after unpickling (legacy) or on demand (zip)."""

    def __init__(self, storage_type: _StorageType, numel: int):
        self.type, self.numel, self.data = storage_type, int(numel), None

    def set_bytes(self, raw: bytes, big_endian: bool, where: str):
        want = self.numel * self.type.itemsize
        if len(raw) != want:
            raise TorchFileError(f"{where}: a {self.type.name} of {self.numel} elements needs {want} bytes, "
                                 f"the file holds {len(raw)}; the file is truncated or corrupt")
        dtype = STORAGE_DTYPES[self.type.name]
        if dtype == "bfloat16":  # the upper 16 bits of a float32
            bits = np.frombuffer(raw, ">u2" if big_endian else "<u2").astype(np.uint32) << 16
            self.data = bits.view(np.float32)
        else:
            dt = np.dtype(dtype).newbyteorder(">" if big_endian else "<")
            self.data = np.frombuffer(raw, dt).astype(np.dtype(dtype).newbyteorder("="), copy=False)


class _Tensor:
    """A strided view into a storage, as `torch._utils._rebuild_tensor_v2` describes it."""

    def __init__(self, storage, offset, size, stride):
        if not isinstance(storage, _Storage):
            raise TorchFileError(f"a tensor refers to {type(storage).__name__}, not to a storage")
        self.storage, self.offset = storage, int(offset)
        self.size, self.stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)

    def to_numpy(self, where: str) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise TorchFileError(f"{where}: a tensor's storage was never written; the file is truncated")
        if len(self.size) != len(self.stride) or any(s < 0 for s in self.size + self.stride):
            raise TorchFileError(f"{where}: tensor size {self.size} and stride {self.stride} do not fit together")
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride)) if all(self.size) else self.offset - 1
        if self.offset < 0 or last >= len(data):
            raise TorchFileError(f"{where}: a tensor of size {self.size} at offset {self.offset} reaches past "
                                 f"its storage of {len(data)} elements; the file is corrupt")
        if not all(self.size):
            return np.zeros(self.size, data.dtype)
        view = np.lib.stride_tricks.as_strided(data[self.offset:], shape=self.size,
                                               strides=[s * data.itemsize for s in self.stride], writeable=False)
        return np.array(view, order="C", copy=True)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, *metadata):
    return _Tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


def _allowed_global(module: str, name: str, where: str):
    if (module, name) == ("collections", "OrderedDict"):
        return collections.OrderedDict
    if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
        return _rebuild_tensor_v2
    if (module, name) == ("torch._utils", "_rebuild_parameter"):
        return _rebuild_parameter
    if module in ("torch", "torch.cuda") and name in STORAGE_DTYPES:
        return _StorageType(name)
    raise TorchFileError(f"{where}: refusing to load {module}.{name}; a state dict holds only tensors, "
                         f"and this reader never runs code a file names. Load only files you trust, "
                         f"with torch.load(..., weights_only=True), or save the tensors alone (model.state_dict()).")


class _DataUnpickler(pickle.Unpickler):
    """For the legacy header pickles: plain data only, no names at all."""

    def __init__(self, file, where: str):
        super().__init__(file)
        self.where = where

    def find_class(self, module, name):
        raise TorchFileError(f"{self.where}: refusing to load {module}.{name} from a header that holds plain data only")


class _StateDictUnpickler(pickle.Unpickler):
    def __init__(self, file, where: str, storages: dict, make_storage):
        super().__init__(file)
        self.where, self.storages, self.make_storage = where, storages, make_storage

    def find_class(self, module, name):
        return _allowed_global(module, name, self.where)

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise TorchFileError(f"{self.where}: unexpected persistent id {pid!r:.80}; only tensor storages are allowed")
        return self.make_storage(pid)


def _unpickle(loader: pickle.Unpickler, where: str):
    try:
        return loader.load()
    except TorchFileError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise TorchFileError(f"{where}: not a readable PyTorch file ({type(exc).__name__}: {exc}); "
                             f"it is truncated or corrupt") from exc


def _load_zip(path: pathlib.Path):
    where = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise TorchFileError(f"{where}: a zip-format .pth file that is not a readable zip ({exc})") from exc
    with archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise TorchFileError(f"{where}: expected one <name>/data.pkl in the archive, found {pickles or 'none'}; "
                                 f"not a file written by torch.save")
        prefix = pickles[0][: -len("data.pkl")]
        names = set(archive.namelist())
        big_endian = False
        if prefix + "byteorder" in names:
            big_endian = archive.read(prefix + "byteorder").decode().strip() == "big"
        storages: dict[str, _Storage] = {}

        def make_storage(pid):
            _, storage_type, key, _location, numel = pid[:5]
            key = str(key)
            if key not in storages:
                member = f"{prefix}data/{key}"
                if member not in names:
                    raise TorchFileError(f"{where}: the pickle refers to storage {key}, which the archive lacks")
                storage = _Storage(storage_type, numel)
                storage.set_bytes(archive.read(member), big_endian, f"{where}:{member}")
                storages[key] = storage
            return storages[key]

        return _unpickle(_StateDictUnpickler(io.BytesIO(archive.read(pickles[0])), where, storages, make_storage), where)


def _load_legacy(path: pathlib.Path):
    where = str(path)
    with open(path, "rb") as f:
        try:
            magic = _DataUnpickler(f, where).load()
        except Exception:
            magic = None
        if magic != LEGACY_MAGIC:
            raise TorchFileError(f"{where}: neither a zip archive nor a legacy .pth file (it does not start with "
                                 f"the legacy magic number); not a file written by torch.save")
        protocol = _unpickle(_DataUnpickler(f, where), where)
        if protocol != LEGACY_PROTOCOL:
            raise TorchFileError(f"{where}: legacy .pth protocol {protocol!r}, expected {LEGACY_PROTOCOL}")
        sys_info = _unpickle(_DataUnpickler(f, where), where)
        big_endian = isinstance(sys_info, dict) and sys_info.get("little_endian") is False
        storages: dict[str, _Storage] = {}
        views = []

        def make_storage(pid):
            _, storage_type, key, _location, numel = pid[:5]
            view = pid[5] if len(pid) > 5 else None
            key = str(key)
            if key not in storages:
                storages[key] = _Storage(storage_type, numel)
            if view is None:
                return storages[key]
            _view_key, view_offset, view_size = view
            sub = _Storage(storage_type, view_size)
            views.append((sub, storages[key], int(view_offset)))
            return sub

        obj = _unpickle(_StateDictUnpickler(f, where, storages, make_storage), where)
        keys = _unpickle(_DataUnpickler(f, where), where)
        if not isinstance(keys, list) or set(map(str, keys)) != set(storages):
            raise TorchFileError(f"{where}: the list of storages after the pickle does not match the tensors; "
                                 f"the file is corrupt")
        for key in map(str, keys):
            storage = storages[key]
            count = f.read(8)
            if len(count) != 8:
                raise TorchFileError(f"{where}: ends before storage {key}; the file is truncated")
            (numel,) = struct.unpack(">q" if big_endian else "<q", count)
            if numel != storage.numel:
                raise TorchFileError(f"{where}: storage {key} has {numel} elements on disk, "
                                     f"the pickle promised {storage.numel}; the file is corrupt")
            storage.set_bytes(f.read(numel * storage.type.itemsize), big_endian, f"{where} (storage {key})")
        for sub, root, offset in views:
            sub.data = root.data[offset: offset + sub.numel]
    return obj


def _to_numpy(obj, where: str):
    """Replace every tensor in a (nested) dict or list by its NumPy array."""
    if isinstance(obj, _Tensor):
        return obj.to_numpy(where)
    if isinstance(obj, dict):
        return collections.OrderedDict((k, _to_numpy(v, where)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_numpy(v, where) for v in obj)
    return obj


def load(path: os.PathLike):
    """The object saved in a ``.pth`` file, with every tensor as a NumPy array.

    Reads both formats of `torch.save`; never imports torch; refuses any pickled name other
    than those a state dict needs (see the module docstring).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise TorchFileError(f"{path}: no such file")
    obj = _load_zip(path) if zipfile.is_zipfile(path) else _load_legacy(path)
    return _to_numpy(obj, str(path))


def read_state_dict(path: os.PathLike) -> "collections.OrderedDict[str, np.ndarray]":
    """A state dict (tensor name -> NumPy array, in the file's order) from a ``.pth`` file.

    Raises `TorchFileError` when the file is unreadable, refers to anything but tensors, or does
    not hold a flat mapping of names to tensors.
    """
    obj = load(path)
    if not isinstance(obj, dict):
        raise TorchFileError(f"{path}: holds a {type(obj).__name__}, not a state dict (a mapping of names to tensors)")
    bad = [k for k, v in obj.items() if not (isinstance(k, str) and isinstance(v, np.ndarray))]
    if bad:
        raise TorchFileError(f"{path}: entries {bad[:3]} are not tensors; pass the state dict itself, "
                             f"e.g. checkpoint['state_dict']")
    return obj


__all__ = ["load", "read_state_dict", "TorchFileError", "STORAGE_DTYPES"]
