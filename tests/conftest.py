"""Shared fixtures: an isolated data search path, and writers of small files in the
original formats of the real data sets (nothing can be downloaded here)."""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile

import numpy as np
import pytest

from course_lib import storage
from course_lib.data import files, real


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    """COURSE_DATA_DIR and KERAS_HOME in a temporary folder, no system folders, offline."""
    data_dir = tmp_path / "data"
    keras_home = tmp_path / "keras"
    data_dir.mkdir()
    monkeypatch.setenv("COURSE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(files, "SYSTEM_DIRS", [])
    return data_dir


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format of (Fashion-)MNIST."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fashion(folder, n_train=30, n_test=10, seed=0, monkeypatch=None, gz=True):
    """Write the four Fashion-MNIST IDX files (gzipped) and register their checksums."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    sums = {}
    for stem, arr in arrays.items():
        raw = idx_bytes(arr)
        sums[stem] = storage.sha256_bytes(raw)
        if gz:
            with gzip.open(folder / f"{stem}.gz", "wb") as f:
                f.write(raw)
        else:
            (folder / stem).write_bytes(raw)
    if monkeypatch is not None:
        monkeypatch.setattr(real, "FASHION_FILES", sums)
    return {k: v.astype(np.uint8) for k, v in arrays.items()}


def write_mnist(path, monkeypatch, n_train=20, n_test=8, seed=1):
    rng = np.random.default_rng(seed)
    arrays = dict(x_train=rng.integers(0, 256, (n_train, 28, 28)).astype(np.uint8),
                  y_train=rng.integers(0, 10, n_train).astype(np.uint8),
                  x_test=rng.integers(0, 256, (n_test, 28, 28)).astype(np.uint8),
                  y_test=rng.integers(0, 10, n_test).astype(np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    monkeypatch.setitem(real.ARCHIVES, "mnist", ("mnist.npz", storage.sha256_file(path)))
    return arrays


def _cifar_batch(rng, n, label_keys):
    batch = {b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8), b"batch_label": b"testing batch"}
    for key, classes in label_keys.items():
        batch[key.encode()] = rng.integers(0, classes, n).tolist()
    return batch


def write_cifar(folder, name, monkeypatch, n=6, seed=2):
    """Write cifar-10-python.tar.gz or cifar-100-python.tar.gz with tiny batches; returns the batches."""
    rng = np.random.default_rng(seed)
    if name == "cifar10":
        top, members, keys = "cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"], {"labels": 10}
    else:
        top, members, keys = "cifar-100-python", ["train", "test"], {"fine_labels": 100, "coarse_labels": 20}
    batches = {m: _cifar_batch(rng, n, keys) for m in members}
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / real.ARCHIVES[name][0]
    with tarfile.open(archive, "w:gz") as tar:
        for member, batch in batches.items():
            raw = pickle.dumps(batch, protocol=2)
            info = tarfile.TarInfo(f"{top}/{member}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    monkeypatch.setitem(real.ARCHIVES, name, (archive.name, storage.sha256_file(archive)))
    return archive, batches
