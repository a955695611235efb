import keras
import numpy as np
import pytest

import course_lib as cl


def expected_small_cnn_params(shape, width, classes, convs=2, head="gap", units=128):
    """Count by hand: conv (no bias) + BN (4 per channel) per layer, then the head."""
    total, c_in = 0, shape[-1]
    for filters in (width, 2 * width):
        for _ in range(convs):
            total += 3 * 3 * c_in * filters + 4 * filters
            c_in = filters
    if head == "dense":
        flat = (shape[0] // 4) * (shape[1] // 4) * c_in
        return total + flat * units + units + units * classes + classes
    return total + c_in * classes + classes


@pytest.mark.parametrize("shape,width,classes,convs,head", [((28, 28, 1), 32, 10, 2, "gap"), ((32, 32, 3), 16, 100, 2, "gap"),
                                                           ((28, 28, 1), 32, 10, 1, "dense"), ((30, 30, 3), 8, 5, 3, "dense")])
def test_small_cnn_parameters_and_forward(shape, width, classes, convs, head):
    model = cl.models.small_cnn(shape, classes, width=width, convs_per_block=convs, head=head)
    assert model.count_params() == expected_small_cnn_params(shape, width, classes, convs, head)
    out = np.asarray(model(np.random.rand(2, *shape).astype("float32"), training=False))
    assert out.shape == (2, classes)
    np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("kwargs,match", [
    (dict(input_shape=(28, 28)), "input_shape must be"),
    (dict(input_shape=(4, 4, 1)), "too small: this network needs H and W of at least 8"),
    (dict(num_classes=1), "num_classes must be an integer >= 2, got 1"),
    (dict(width=0.5), "width must be an integer >= 1, got 0.5"),
    (dict(bn_momentum=1.0), "bn_momentum must be in"),
    (dict(convs_per_block=0), "convs_per_block must be an integer >= 1"),
    (dict(head="flatten"), r"head must be one of \('gap', 'dense'\), got 'flatten'"),
    (dict(rescale=0), "rescale must be a positive factor"),
])
def test_small_cnn_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cl.models.small_cnn(**kwargs)


@pytest.mark.parametrize("build", [lambda m: cl.models.small_cnn(width=4, bn_momentum=m),
                                   lambda m: cl.models.convblock_net(width_multiplier=0.0625, blocks=1, batch_norm=True, bn_momentum=m)])
def test_bn_momentum_sets_how_fast_the_moving_mean_follows_the_batch(build):
    model = build(0.9)
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert bns and all(bn.momentum == 0.9 for bn in bns)
    first = bns[0]
    before = keras.Model(model.inputs, model.get_layer(index=model.layers.index(first) - 1).output)
    x = np.random.default_rng(0).uniform(0, 255, (8, 28, 28, 1)).astype("float32")
    batch_mean = keras.ops.convert_to_numpy(before(x)).reshape(-1, first.moving_mean.shape[0]).mean(axis=0)
    model(x, training=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(first.moving_mean), 0.1 * batch_mean, rtol=1e-3, atol=1e-5)


def test_mlp_parameter_count_and_names():
    model = cl.models.mlp(input_shape=(28, 28), hidden_units=(256, 128), num_classes=10)
    assert model.count_params() == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    assert [l.name for l in model.layers if l.name.startswith(("dense", "act", "output"))] == \
        ["dense_0", "act_0", "dense_1", "act_1", "output"]


def test_mlp_with_batch_norm_drops_dense_bias():
    model = cl.models.mlp(input_shape=(4,), hidden_units=(8,), num_classes=2, batch_norm=True)
    assert model.count_params() == 4 * 8 + 4 * 8 + 8 * 2 + 2


def test_mlp_accepts_a_layer_class_as_activation():
    model = cl.models.mlp(input_shape=(4,), hidden_units=(3,), activation=cl.layers.ScaledTanh)
    assert isinstance(model.get_layer("act_0"), cl.layers.ScaledTanh)


@pytest.mark.parametrize("kwargs,match", [(dict(dropout=1.0), "dropout must be in"),
                                          (dict(hidden_units=(), num_classes=None), "needs hidden_units"),
                                          (dict(hidden_units=(16, 0)), "hidden_units entries must be an integer >= 1, got 0")])
def test_mlp_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cl.models.mlp(**kwargs)


def test_mlp_gives_each_layer_its_own_initializer_draw():
    import keras

    cl.setup(seed=0, profile="smoke", quiet=True)
    model = cl.models.mlp(input_shape=(16,), hidden_units=(16, 16, 16), kernel_initializer=keras.initializers.GlorotNormal())
    k1, k2 = (keras.ops.convert_to_numpy(model.get_layer(n).kernel) for n in ("dense_1", "dense_2"))
    assert not np.allclose(k1, k2)


def test_mlp_initializer_function_receives_fan_in():
    import keras

    seen = []

    def torch_uniform(n):
        seen.append(n)
        return keras.initializers.RandomUniform(-1 / np.sqrt(n), 1 / np.sqrt(n))

    model = cl.models.mlp(input_shape=(28, 28), hidden_units=(64, 32), kernel_initializer=torch_uniform)
    assert seen == [784, 64, 32]
    assert np.abs(keras.ops.convert_to_numpy(model.get_layer("dense_0").kernel)).max() <= 1 / 28 + 1e-7
    with pytest.raises(ValueError, match="kernel_initializer must be"):
        cl.models.mlp(kernel_initializer=3)


def test_augmentation_is_identity_at_inference_and_changes_training_views():
    import keras

    aug = cl.models.augmentation(seed=0)
    x = np.random.default_rng(0).uniform(size=(4, 12, 12, 1)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(aug(x, training=False)), x)
    assert not np.allclose(keras.ops.convert_to_numpy(aug(x, training=True)), x)
    assert [type(l).__name__ for l in aug.layers] == ["RandomFlip", "RandomTranslation", "RandomZoom"]
    assert [type(l).__name__ for l in cl.models.augmentation(flip=None, zoom=0).layers] == ["RandomTranslation"]


@pytest.mark.parametrize("kwargs,match", [(dict(translate=1.5), "fractions in"),
                                          (dict(flip=None, translate=0, zoom=0), "does nothing")])
def test_augmentation_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cl.models.augmentation(**kwargs)


# One input convention for every builder: inputs in [0, 1] by default (no Rescaling layer);
# rescale=1/255 adds one, so the model then takes raw pixels and gives the same outputs.
BUILDERS = {
    "mlp": lambda **kw: cl.models.mlp((8, 8, 1), hidden_units=(6,), **kw),
    "small_cnn": lambda **kw: cl.models.small_cnn((8, 8, 1), 3, width=2, **kw),
    "convblock_net": lambda **kw: cl.models.convblock_net((8, 8, 1), 3, width_multiplier=1 / 32, blocks=1, **kw),
    "resnet_cifar": lambda **kw: cl.models.resnet_cifar(8, input_shape=(8, 8, 1), width=2, **kw),
    "resnet": lambda **kw: cl.models.resnet(18, input_shape=(32, 32, 3), num_classes=3, **kw),
    "lenet5": lambda **kw: cl.models.lenet5((28, 28, 1), rbf_output=False, **kw),
    "alexnet": lambda **kw: cl.models.alexnet((67, 67, 3), num_classes=3, **kw),
    "vgg": lambda **kw: cl.models.vgg(11, input_shape=(32, 32, 3), num_classes=3, **kw),
    "googlenet": lambda **kw: cl.models.googlenet((64, 64, 3), num_classes=3, **kw),
    "densenet121": lambda **kw: cl.models.densenet121((64, 64, 3), num_classes=3, **kw),
    "mobilenet_v1": lambda **kw: cl.models.mobilenet_v1((32, 32, 3), num_classes=3, alpha=0.25, **kw),
}


CHEAP = ("mlp", "small_cnn", "convblock_net", "resnet_cifar", "lenet5")


@pytest.mark.parametrize("name", [n if n in CHEAP else pytest.param(n, marks=pytest.mark.counts_only) for n in sorted(BUILDERS)])
def test_every_builder_takes_unit_inputs_and_rescales_on_request(name):
    plain = BUILDERS[name]()
    assert not any(isinstance(layer, keras.layers.Rescaling) for layer in plain.layers), name
    scaled = BUILDERS[name](rescale=1 / 255)
    assert isinstance(scaled.layers[1], keras.layers.Rescaling) and scaled.count_params() == plain.count_params()
    if name not in CHEAP:   # structure only (TF): building them costs minutes on JAX; their forward passes are tested elsewhere
        return
    scaled.set_weights(plain.get_weights())
    raw = np.random.default_rng(0).integers(0, 256, (2, *plain.input_shape[1:])).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(scaled(raw, training=False)),
                               keras.ops.convert_to_numpy(plain(raw / 255, training=False)), rtol=1e-4, atol=1e-5)
