"""Real-data loaders on small files written in the original formats, with checksums."""

import gzip
import os
import pathlib

import numpy as np
import pytest

import course_lib as cl
from course_lib import storage
from course_lib.data import files, real
from tests.conftest import write_cifar, write_fashion, write_mnist


def test_fashion_mnist_idx_files_roundtrip(data_home, monkeypatch):
    arrays = write_fashion(data_home / "fashion-mnist", monkeypatch=monkeypatch)
    train = cl.data.load("fashion_mnist", "train", profile="cpu")
    test = cl.data.load("fashion_mnist", "test", profile="cpu")
    np.testing.assert_array_equal(train.x, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(train.y, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(test.x, arrays["t10k-images-idx3-ubyte"])
    assert train.source.is_real and train.source.origin == str(data_home / "fashion-mnist")
    assert train.source.sha256 == real.FASHION_FILES["train-images-idx3-ubyte"]
    assert train.class_names[0] == "T-shirt/top" and len(train.class_names) == 10
    assert train.source.label() == "Fashion-MNIST"


def test_uncompressed_idx_files_are_accepted(data_home, monkeypatch):
    arrays = write_fashion(data_home / "fashion-mnist", monkeypatch=monkeypatch, gz=False)
    np.testing.assert_array_equal(cl.data.load("fashion_mnist", "test", profile="cpu").y,
                                  arrays["t10k-labels-idx1-ubyte"])


def test_search_order_data_dir_before_keras_cache(data_home, monkeypatch, tmp_path):
    cache = pathlib.Path(os.environ["KERAS_HOME"]) / "datasets" / "fashion-mnist"
    write_fashion(cache, n_train=5, seed=1, monkeypatch=monkeypatch)
    assert len(cl.data.load("fashion_mnist", profile="cpu")) == 5      # only the cache has it
    write_fashion(data_home / "fashion-mnist", n_train=7, seed=2, monkeypatch=monkeypatch)
    assert len(cl.data.load("fashion_mnist", profile="cpu")) == 7      # COURSE_DATA_DIR wins


def test_system_folder_is_searched(tmp_path, monkeypatch):
    from course_lib.data import files

    system = tmp_path / "usr-share-datasets"
    write_fashion(system / "fashion-mnist", n_train=4, monkeypatch=monkeypatch)
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras"))
    monkeypatch.setattr(files, "SYSTEM_DIRS", [system])
    data = cl.data.load("fashion_mnist", profile="gpu")
    assert data.source.origin == str(system / "fashion-mnist") and len(data) == 4


def test_corrupt_file_names_file_and_fix(data_home, monkeypatch):
    write_fashion(data_home / "fashion-mnist", monkeypatch=monkeypatch)
    path = data_home / "fashion-mnist" / "train-labels-idx1-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-1] + bytes([(raw[-1] + 1) % 256])))
    with pytest.raises(cl.data.DataError) as err:
        cl.data.load("fashion_mnist", profile="cpu")
    message = str(err.value)
    assert str(path) in message and "SHA-256" in message and "Delete it" in message


def test_truncated_gzip_names_file(data_home, monkeypatch):
    write_fashion(data_home / "fashion-mnist", monkeypatch=monkeypatch)
    path = data_home / "fashion-mnist" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(cl.data.DataError, match="truncated or corrupt") as err:
        cl.data.load("fashion_mnist", profile="cpu")
    assert str(path) in str(err.value)


def test_bad_idx_header_is_reported():
    with pytest.raises(cl.data.DataError, match="truncated"):
        real.parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]))
    with pytest.raises(cl.data.DataError, match="magic"):
        real.parse_idx(b"PK\x03\x04abcd")


def test_mnist_npz(data_home, monkeypatch):
    arrays = write_mnist(data_home / "mnist.npz", monkeypatch)
    test = cl.data.load("mnist", "test", profile="cpu")
    np.testing.assert_array_equal(test.x, arrays["x_test"])
    np.testing.assert_array_equal(test.y, arrays["y_test"])
    assert test.source.is_real


def test_mnist_corrupt_npz(data_home, monkeypatch):
    write_mnist(data_home / "mnist.npz", monkeypatch)
    with open(data_home / "mnist.npz", "ab") as f:
        f.write(b"junk")
    with pytest.raises(cl.data.DataError, match="mnist.npz: SHA-256"):
        cl.data.load("mnist", profile="cpu")


def _expected_cifar(batches, members, key):
    x = np.concatenate([batches[m][b"data"] for m in members]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    y = np.concatenate([batches[m][key] for m in members])
    return x, y


def test_cifar10_archive(data_home, monkeypatch):
    _, batches = write_cifar(data_home, "cifar10", monkeypatch)
    train = cl.data.load("cifar10", "train", profile="cpu")
    x, y = _expected_cifar(batches, [f"data_batch_{i}" for i in range(1, 6)], b"labels")
    np.testing.assert_array_equal(train.x, x)
    np.testing.assert_array_equal(train.y, y)
    assert train.x.shape == (30, 32, 32, 3) and train.x.dtype == np.uint8
    test = cl.data.load("cifar10", "test", profile="cpu")
    np.testing.assert_array_equal(test.x, _expected_cifar(batches, ["test_batch"], b"labels")[0])


def test_cifar10_pixel_layout_is_channels_last():
    """One known pixel: the first 1024 bytes of a row are red, then green, then blue."""
    row = np.zeros(3072, np.uint8)
    row[0], row[1024], row[2048] = 10, 20, 30
    x, _ = real._decode_cifar([{"data": row[None], "labels": [3]}], "labels", "test")
    assert x[0, 0, 0].tolist() == [10, 20, 30]


@pytest.mark.parametrize("mode,key", [("fine", b"fine_labels"), ("coarse", b"coarse_labels")])
def test_cifar100_label_modes(data_home, monkeypatch, mode, key):
    _, batches = write_cifar(data_home, "cifar100", monkeypatch)
    test = cl.data.load("cifar100", "test", profile="cpu", label_mode=mode)
    np.testing.assert_array_equal(test.y, _expected_cifar(batches, ["test"], key)[1])


def test_cifar_extracted_folder(data_home, monkeypatch):
    import tarfile

    archive, batches = write_cifar(data_home / "tmp", "cifar10", monkeypatch)
    with tarfile.open(archive) as tar:
        tar.extractall(data_home, filter="data")
    data = cl.data.load("cifar10", "test", profile="cpu")
    np.testing.assert_array_equal(data.y, batches["test_batch"][b"labels"])
    assert data.source.sha256 is None and "extracted" in data.source.note


def test_cifar_refuses_foreign_pickles(data_home, monkeypatch):
    import pickle

    folder = data_home / "cifar-10-batches-py"
    folder.mkdir()
    for member in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / member).write_bytes(pickle.dumps({"data": os.getcwd}))
    with pytest.raises(cl.data.DataError, match="refusing to load"):
        cl.data.load("cifar10", "test", profile="cpu")


def test_cifar_truncated_archive(data_home, monkeypatch):
    archive, _ = write_cifar(data_home, "cifar10", monkeypatch)
    archive.write_bytes(archive.read_bytes()[:200])
    monkeypatch.setitem(real.ARCHIVES, "cifar10", (archive.name, storage.sha256_file(archive)))
    with pytest.raises(cl.data.DataError, match="truncated or corrupt"):
        cl.data.load("cifar10", profile="cpu")


def test_missing_real_data_falls_back_loudly_in_cpu(data_home, capsys):
    with pytest.warns(cl.data.SubstituteWarning, match="REAL fashion_mnist NOT FOUND"):
        data = cl.data.load("fashion_mnist", profile="cpu", limit=20)
    assert data.source.kind == "substitute" and "SUBSTITUTE" in data.source.label()
    assert "COURSE_OFFLINE" in capsys.readouterr().err


def test_missing_real_data_is_quiet_in_smoke(data_home, recwarn):
    data = cl.data.load("cifar10", profile="smoke", limit=5)
    assert data.source.kind == "substitute"
    assert not [w for w in recwarn if issubclass(w.category, cl.data.SubstituteWarning)]


def test_smoke_uses_substitute_even_when_real_exists(data_home, monkeypatch):
    write_fashion(data_home / "fashion-mnist", monkeypatch=monkeypatch)
    assert cl.data.load("fashion_mnist", profile="smoke").source.kind == "substitute"
    assert cl.data.load("fashion_mnist", profile="smoke", require_real=True).source.is_real


def test_require_real_raises_with_fix(data_home):
    with pytest.raises(cl.data.DataError, match="real mnist not found.*require_real=False"):
        cl.data.load("mnist", profile="gpu", require_real=True)


def test_status_reports_real_missing_corrupt(data_home, monkeypatch):
    write_fashion(data_home / "fashion-mnist", monkeypatch=monkeypatch)
    write_mnist(data_home / "mnist.npz", monkeypatch)
    (data_home / "mnist.npz").write_bytes(b"not an npz")
    status = cl.data.status()
    assert status["fashion_mnist"][0] == "real"
    assert status["mnist"][0] == "corrupt"
    assert status["cifar10"][0] == "missing"


@pytest.mark.skipif(not pathlib.Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed on this machine")
def test_debian_fashion_mnist_checks_out(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    test = cl.data.load("fashion_mnist", "test", profile="cpu", require_real=True)
    assert test.x.shape == (10000, 28, 28) and np.bincount(test.y).tolist() == [1000] * 10
