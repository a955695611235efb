"""The classic architectures against keras.applications (weights=None) and the papers' tables."""

import keras
import numpy as np
import pytest

import course_lib as cl
from course_lib import models


@pytest.mark.counts_only
@pytest.mark.parametrize("ours,theirs", [
    (lambda: models.vgg(16), lambda: keras.applications.VGG16(weights=None)),
    (lambda: models.vgg(19), lambda: keras.applications.VGG19(weights=None)),
    (lambda: models.densenet121(), lambda: keras.applications.DenseNet121(weights=None)),
    (lambda: models.mobilenet_v1(), lambda: keras.applications.MobileNet(weights=None)),
], ids=["vgg16", "vgg19", "densenet121", "mobilenet"])
def test_parameters_match_keras_applications(ours, theirs):
    a, b = ours(), theirs()
    assert a.count_params() == b.count_params()
    assert models.trainable_parameters(a) == models.trainable_parameters(b)
    keras.backend.clear_session()


@pytest.mark.counts_only
def test_alexnet_and_googlenet_totals():
    assert models.alexnet().count_params() == 62_378_344      # the one-tower AlexNet usually quoted as 62.4M
    assert models.googlenet().count_params() == 6_998_552     # Inception v1 without auxiliary heads


def test_inception_3a_matches_table_1():
    """Table 1 lists 159K parameters for inception (3a), counting weights only, K = 1024."""
    layer = cl.layers.InceptionModule(*models.classic.GOOGLENET_MODULES["3a"])
    out = layer(np.zeros((1, 28, 28, 192), "float32"))
    assert tuple(out.shape) == (1, 28, 28, 256)
    weights_only = sum(int(np.prod(w.shape)) for w in layer.weights if len(w.shape) == 4)
    assert round(weights_only / 1024) == 160 and int(weights_only / 1024) == 159


def test_dense_block_grows_channels_by_k():
    block = cl.layers.DenseBlock(3, growth_rate=8)
    out = block(np.random.default_rng(0).normal(size=(1, 5, 5, 4)).astype("float32"))
    assert tuple(out.shape) == (1, 5, 5, 4 + 3 * 8)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out)[..., :4],
                               np.random.default_rng(0).normal(size=(1, 5, 5, 4)), rtol=1e-6)


@pytest.mark.parametrize("build,shape", [
    (lambda: models.alexnet((67, 67, 3), num_classes=5), (67, 67, 3)),
    (lambda: models.googlenet((64, 64, 3), num_classes=5), (64, 64, 3)),
    (lambda: models.densenet121((64, 64, 3), num_classes=5), (64, 64, 3)),
    (lambda: models.resnet(18, (64, 64, 3), num_classes=5, preact=True), (64, 64, 3)),
], ids=["alexnet", "googlenet", "densenet121", "resnet18_preact"])
def test_forward_pass_gives_probabilities(build, shape):
    """Runs on every backend (not counts_only): the layers compute, not only count."""
    model = build()
    x = np.random.default_rng(0).uniform(size=(2, *shape)).astype("float32")
    out = keras.ops.convert_to_numpy(model(x, training=False))
    assert out.shape == (2, 5) and np.isfinite(out).all()
    np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-5)
    assert np.abs(out[0] - out[1]).max() > 0, "different inputs, different outputs"
    keras.backend.clear_session()


def test_preact_resnet_uses_preactivation_blocks():
    pre, post = models.resnet(18, (32, 32, 3), 5, preact=True), models.resnet(18, (32, 32, 3), 5)
    blocks = lambda m: [l for l in m.layers if isinstance(l, cl.layers.ResidualBlock)]
    assert all(b.preact for b in blocks(pre)) and not any(b.preact for b in blocks(post))
    assert len(blocks(pre)) == 8


def test_small_inputs_run_forward():
    x = np.zeros((1, 64, 64, 3), "float32")
    for model in (models.mobilenet_v1((64, 64, 3), 10, alpha=0.25), models.vgg(11, (32, 32, 3), 10)):
        assert tuple(model(x[:, :model.input_shape[1], :model.input_shape[2]]).shape) == (1, 10)


@pytest.mark.parametrize("call,match", [
    (lambda: models.vgg(17), r"VGG depth must be one of \[11, 13, 16, 19\], got 17"),
    (lambda: models.mobilenet_v1(alpha=0), "alpha .* must be positive"),
    (lambda: cl.layers.InceptionModule(64, 0, 128, 16, 32, 32), "at least one filter"),
    (lambda: cl.layers.DenseBlock(0), "at least 1"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_composite_layers_report_their_macs():
    """ResNet-50's MACs: about 4.1 G (He et al. quote 3.8 G FLOPs counting multiply-adds, conv layers only)."""
    rows = models.summary_table(models.resnet(50))
    total = sum(r.macs for r in rows)
    assert 3.8e9 < total < 4.2e9
    block = cl.layers.InceptionModule(*models.classic.GOOGLENET_MODULES["3a"])
    block(np.zeros((1, 28, 28, 192), "float32"))
    assert abs(block.macs() - 128e6) / 128e6 < 0.03       # Table 1: 128M ops for inception (3a)


def test_residual_block_macs_by_hand():
    block = cl.layers.ResidualBlock(8, strides=2, kind="basic", shortcut="projection")
    block(np.zeros((1, 16, 16, 4), "float32"))
    by_hand = 8 * 8 * 8 * (9 * 4) + 8 * 8 * 8 * (9 * 8) + 8 * 8 * 8 * 4
    assert block.macs() == by_hand
