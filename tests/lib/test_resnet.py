import keras
import numpy as np
import pytest

import course_lib as cl
from course_lib.models import RESNET_PARAMETERS, resnet, resnet_cifar, trainable_parameters


def to_np(t):
    return np.asarray(keras.ops.convert_to_numpy(t), dtype=np.float64)


@pytest.mark.parametrize("depth", [20, 56])
def test_cifar_resnet_parameters_match_the_paper(depth):
    assert trainable_parameters(resnet_cifar(depth)) == RESNET_PARAMETERS[f"resnet{depth}"]


@pytest.mark.counts_only
@pytest.mark.parametrize("depth", [18, 34, 50])
def test_imagenet_resnet_parameters(depth):
    assert trainable_parameters(resnet(depth)) == RESNET_PARAMETERS[f"resnet{depth}"]


def test_plain_network_has_the_same_parameters_with_option_a():
    assert trainable_parameters(resnet_cifar(20, residual=False)) == trainable_parameters(resnet_cifar(20))


def _zero_convs(block):
    for conv in block.convs:
        conv.kernel.assign(np.zeros(conv.kernel.shape, "float32"))


def test_block_with_zero_residual_branch_passes_the_input():
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 4)).astype("float32")
    block = cl.layers.ResidualBlock(4)
    block(x)
    _zero_convs(block)
    np.testing.assert_allclose(to_np(block(x, training=False)), np.maximum(x, 0), atol=1e-5)
    pre = cl.layers.ResidualBlock(4, preact=True)
    pre(x)
    _zero_convs(pre)
    np.testing.assert_allclose(to_np(pre(x, training=False)), x, atol=1e-5)


def test_zero_pad_shortcut_subsamples_and_pads():
    x = np.random.default_rng(1).normal(size=(1, 8, 8, 4)).astype("float32")
    block = cl.layers.ResidualBlock(8, strides=2, shortcut="zero_pad", preact=True)
    block(x)
    _zero_convs(block)
    out = to_np(block(x, training=False))
    assert out.shape == (1, 4, 4, 8)
    np.testing.assert_allclose(out[..., 2:6], x[:, ::2, ::2, :], atol=1e-5)
    np.testing.assert_allclose(out[..., :2], 0, atol=1e-6)
    assert block.count_params() == sum(int(np.prod(w.shape)) for w in block.weights)


def test_bottleneck_output_channels_and_projection():
    block = cl.layers.ResidualBlock(16, strides=2, kind="bottleneck")
    out = block(np.zeros((1, 8, 8, 32), "float32"))
    assert tuple(out.shape) == (1, 4, 4, 64) and block.project is not None


def test_squeeze_excite_matches_numpy():
    x = np.random.default_rng(2).normal(size=(2, 3, 3, 8)).astype("float32")
    layer = cl.layers.SqueezeExcite(ratio=4)
    out = to_np(layer(x))
    w1, b1 = [to_np(w) for w in layer.squeeze.weights]
    w2, b2 = [to_np(w) for w in layer.excite.weights]
    gate = 1 / (1 + np.exp(-(np.maximum(x.mean((1, 2)) @ w1 + b1, 0) @ w2 + b2)))
    np.testing.assert_allclose(out, x * gate[:, None, None, :], rtol=1e-4, atol=1e-5)
    assert layer.count_params() == 8 * 2 + 2 + 2 * 8 + 8


def test_bn_momentum_reaches_every_batch_norm_and_survives_saving(tmp_path):
    model = resnet_cifar(8, input_shape=(16, 16, 1), shortcut="projection", width=4, bn_momentum=0.9)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for block in (layer for layer in model.layers if isinstance(layer, cl.layers.ResidualBlock)):
        norms += block.norms + ([block.project_norm] if block.project is not None else [])
    assert len(norms) == 1 + 3 * 2 + 2 and {bn.momentum for bn in norms} == {0.9}
    x = np.random.default_rng(0).uniform(size=(4, 16, 16, 1)).astype("float32")
    before = keras.ops.convert_to_numpy(model.get_layer("bn1").moving_mean)
    model(x, training=True)
    stem = keras.Model(model.inputs, model.get_layer("conv1").output)
    batch_mean = to_np(stem(x)).reshape(-1, 4).mean(axis=0)
    np.testing.assert_allclose(to_np(model.get_layer("bn1").moving_mean), 0.9 * before + 0.1 * batch_mean, rtol=1e-4, atol=1e-6)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.get_layer("stage2_block1").get_config()["bn_momentum"] == 0.9


def test_small_resnet_trains_a_step_and_round_trips(tmp_path):
    cl.setup(seed=0, profile="smoke", quiet=True)
    model = resnet_cifar(8, input_shape=(16, 16, 1), preact=True)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(3).uniform(size=(8, 16, 16, 1)).astype("float32")
    model.fit(x, np.arange(8) % 10, epochs=1, verbose=0)
    model.save(tmp_path / "r.keras")
    np.testing.assert_allclose(to_np(keras.saving.load_model(tmp_path / "r.keras")(x)), to_np(model(x)), atol=1e-5)


@pytest.mark.parametrize("call,match", [
    (lambda: resnet_cifar(21), r"depth 6n \+ 2 .* got 21"),
    (lambda: resnet(26), "depth 18, 34, 50, 101 or 152, got 26"),
    (lambda: cl.layers.ResidualBlock(8, kind="wide"), "kind must be one of"),
    (lambda: cl.layers.ResidualBlock(8, strides=3), "strides must be 1 or 2, got 3"),
    (lambda: cl.layers.ResidualBlock(8, shortcut="none"), "shortcut must be one of"),
    (lambda: cl.layers.SqueezeExcite(0), "ratio must be at least 1"),
    (lambda: cl.layers.ResidualBlock(8, bn_momentum=1.0), "bn_momentum must be in"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
