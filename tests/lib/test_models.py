import numpy as np
import pytest

import course_lib as cl


def expected_small_cnn_params(channels, width, classes):
    """Count by hand: conv (no bias) + BN (4 per channel) per layer, then the dense head."""
    total, c_in = 0, channels
    for filters in (width, 2 * width):
        for _ in range(2):
            total += 3 * 3 * c_in * filters + 4 * filters
            c_in = filters
    return total + c_in * classes + classes


@pytest.mark.parametrize("shape,width,classes", [((28, 28, 1), 32, 10), ((32, 32, 3), 16, 100)])
def test_small_cnn_parameters_and_forward(shape, width, classes):
    model = cl.models.small_cnn(shape, classes, width=width)
    assert model.count_params() == expected_small_cnn_params(shape[-1], width, classes)
    out = np.asarray(model(np.random.rand(2, *shape).astype("float32"), training=False))
    assert out.shape == (2, classes)
    np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("kwargs,match", [
    (dict(input_shape=(28, 28)), "input_shape must be"),
    (dict(input_shape=(4, 4, 1)), "H, W >= 8"),
    (dict(num_classes=1), "num_classes must be at least 2"),
])
def test_small_cnn_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cl.models.small_cnn(**kwargs)
