import numpy as np
import pytest

from course_lib.models.convblock import convblock_net


def expected_params(channels_in, stages, blocks, classes, batch_norm):
    """Count by hand: every conv is k_h * k_w * c_in * c_out, plus a bias (no BN) or 4 per channel (BN)."""
    per_channel = 4 if batch_norm else 1
    total, c_in = 0, channels_in
    convs = [(9, stages[0])]                                   # stem 3x3
    for i, c in enumerate(stages):
        if i > 0:
            convs.append((9, c))                               # stride-2 3x3 subsampling
        convs += [(3, c), (3, c)] * blocks                     # 3x1 then 1x3
    for k, c in convs:
        total += k * c_in * c + per_channel * c
        c_in = c
    return total + c_in * classes + classes


def test_full_network_has_about_two_million_parameters():
    model = convblock_net()
    assert model.count_params() == expected_params(1, (64, 128, 256), 3, 10, False) == 1_923_210


@pytest.mark.parametrize("shape,classes,width,batch_norm,blocks", [
    ((28, 28, 1), 10, 0.25, False, 3),
    ((32, 32, 3), 100, 0.125, True, 2),
])
def test_parameters_and_forward(shape, classes, width, batch_norm, blocks):
    model = convblock_net(shape, classes, blocks=blocks, width_multiplier=width, batch_norm=batch_norm, dropout=0.5, l2=1e-3)
    stages = tuple(round(f * width) for f in (64, 128, 256))
    assert model.count_params() == expected_params(shape[-1], stages, blocks, classes, batch_norm)
    x = np.random.default_rng(0).integers(0, 256, (2, *shape)).astype("float32")
    out = np.asarray(model(x, training=False))
    assert out.shape == (2, classes)
    np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-5)
    assert len(model.losses) > 0                               # the L2 penalties


def test_resolution_halves_per_stage():
    model = convblock_net((28, 28, 1), width_multiplier=0.125)
    gap = [l for l in model.layers if "global_average_pooling" in l.name][0]
    assert tuple(gap.input.shape[1:]) == (7, 7, 32)


@pytest.mark.parametrize("kwargs,match", [
    (dict(input_shape=(28, 28)), "input_shape must be"),
    (dict(input_shape=(2, 2, 1)), "too small"),
    (dict(num_classes=1), "num_classes must be an integer >= 2"),
    (dict(width_multiplier=0), "width_multiplier .* must be a positive number, got 0"),
    (dict(blocks=0), "blocks must be an integer >= 1"),
    (dict(dropout=1.0), "dropout must be in"),
    (dict(l2=-1.0), "l2 must be >= 0"),
    (dict(filters=()), "filters must be"),
    (dict(bn_momentum=-0.1), "bn_momentum must be in"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        convblock_net(**kwargs)
