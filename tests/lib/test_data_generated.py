"""Embedded, substitute and synthetic data: shapes, dtypes, determinism, consistency, bad input."""

import numpy as np
import pytest

import course_lib as cl
from course_lib.data import embedded, synthetic


@pytest.mark.parametrize("name,shape,classes", [
    ("fashion_mnist", (28, 28), 10), ("mnist", (28, 28), 10),
    ("cifar10", (32, 32, 3), 10), ("cifar100", (32, 32, 3), 100)])
def test_substitutes_match_real_shapes_and_dtypes(name, shape, classes):
    data = cl.data.load(name, "train", profile="smoke", n=max(200, 2 * classes))
    assert data.x.shape[1:] == shape and data.x.dtype == np.uint8
    assert data.y.dtype == np.uint8 and data.y.ndim == 1
    assert set(np.unique(data.y)) == set(range(classes))
    assert data.source.kind == "substitute" and not data.source.is_real


def test_fashion_substitute_is_learnable_and_deterministic():
    """Classes must differ in a way a linear model picks up, or the smoke runs teach nothing."""
    from sklearn.linear_model import LogisticRegression

    a = cl.data.load("fashion_mnist", "train", profile="smoke", n=600)
    b = cl.data.load("fashion_mnist", "train", profile="smoke", n=600)
    np.testing.assert_array_equal(a.x, b.x)
    test = cl.data.load("fashion_mnist", "test", profile="smoke", n=300)
    assert not np.array_equal(a.x[:300], test.x)
    clf = LogisticRegression(max_iter=300).fit(a.x.reshape(600, -1) / 255, a.y)
    assert clf.score(test.x.reshape(300, -1) / 255, test.y) > 0.7


def test_digits_split_is_disjoint_and_complete():
    train = cl.data.load("digits", "train")
    test = cl.data.load("digits", "test")
    assert len(train) + len(test) == 1797
    assert train.x.shape[1:] == (8, 8) and train.x.max() <= 16
    rows = {r.tobytes() for r in train.x}
    assert sum(r.tobytes() in rows for r in test.x) < 10   # digits has a few duplicate images


# shape, mean and standard deviation of the pixels of every named image, as the packages ship them
# (the JPEGs may decode a little differently with another libjpeg: hence 1.0 of slack)
NAMED_IMAGES = {
    "astronaut": ((512, 512, 3), 114.60, 81.23), "camera": ((512, 512), 129.06, 73.64),
    "coffee": ((400, 600, 3), 98.62, 74.08), "chelsea": ((300, 451, 3), 115.31, 42.27),
    "cat": ((300, 451, 3), 115.31, 42.27), "rocket": ((427, 640, 3), 65.28, 34.76),
    "retina": ((1411, 1411, 3), 89.70, 76.59), "hubble_deep_field": ((872, 1000, 3), 19.15, 27.69),
    "immunohistochemistry": ((512, 512, 3), 160.33, 53.28), "motorcycle_left": ((500, 741, 3), 107.70, 62.46),
    "motorcycle_right": ((500, 741, 3), 104.61, 62.54), "brick": ((512, 512), 111.46, 26.05),
    "grass": ((512, 512), 118.22, 38.59), "gravel": ((512, 512), 126.55, 38.72),
    "coins": ((303, 384), 96.86, 52.88), "moon": ((512, 512), 112.17, 13.33),
    "page": ((191, 384), 171.54, 56.81), "text": ((172, 448), 129.26, 22.92),
    "clock": ((300, 400), 146.33, 20.91), "cell": ((660, 550), 67.96, 23.89),
    "microaneurysms": ((102, 102), 99.34, 9.95), "horse": ((328, 400), 170.62, 119.99),
    "logo": ((500, 500, 3), 181.41, 74.01), "colorwheel": ((370, 371, 3), 76.33, 89.66),
    "checkerboard": ((200, 200), 127.50, 121.89), "shepp_logan_phantom": ((400, 400), 31.41, 54.53),
    "china": ((427, 640, 3), 143.70, 86.34), "flower": ((427, 640, 3), 61.90, 61.39),
    "grace_hopper": ((600, 512, 3), 80.45, 74.37), "mri": ((256, 256), 45.84, 65.83),
}


def test_every_named_image_is_listed_and_checked():
    assert set(embedded.IMAGE_NAMES) == set(NAMED_IMAGES)


@pytest.mark.parametrize("name", sorted(NAMED_IMAGES))
def test_named_images(name, monkeypatch):
    """Each image loads without network (skimage's download-on-demand images are not listed) and is the one named."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError(f"image {name!r} tried to download")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    data = cl.data.load("images", image=name)
    shape, mean, std = NAMED_IMAGES[name]
    assert data.x.dtype == np.uint8 and data.x.shape == shape and data.y is None
    assert abs(data.x.mean() - mean) < 1.0 and abs(data.x.std() - std) < 1.0
    assert data.source.kind == "embedded" and embedded.IMAGE_PACKAGES[name] in data.source.origin


def test_cat_is_chelsea():
    np.testing.assert_array_equal(cl.data.image("cat")[0], cl.data.image("chelsea")[0])


def test_unknown_image_lists_names():
    with pytest.raises(cl.data.DataError, match="unknown image 'lena'.*chelsea"):
        cl.data.load("images", image="lena")
    with pytest.raises(cl.data.DataError, match="needs image="):
        cl.data.load("images")


def test_shapes_masks_boxes_captions_agree():
    data = cl.data.load("shapes", n=40, size=48, max_shapes=3)
    masks, boxes, counts = data.extras["masks"], data.extras["boxes"], data.extras["counts"]
    assert data.x.shape == (40, 48, 48, 3) and masks.shape == (40, 48, 48)
    for i in range(40):
        k = counts[i]
        assert (boxes[i, k:] == -1).all() and (boxes[i, :k, 0] >= 0).all()
        visible = set(np.unique(masks[i])) - {0}
        assert visible <= {int(c) + 1 for c in boxes[i, :k, 0]}
        # the label is the class of the largest shape, which is visible in the mask
        assert int(data.y[i]) + 1 in {int(c) + 1 for c in boxes[i, :k, 0]}
        caption = data.extras["captions"][i]
        assert caption.count(" a ") + caption.startswith("a ") == k
        assert all(name in synthetic.SHAPE_CLASSES for name in
                   [w for w in caption.split() if w in synthetic.SHAPE_CLASSES])
    # pixels inside a mask have the shape's colour, not background noise
    i = 0
    fg = masks[i] > 0
    assert data.x[i][fg].mean() > data.x[i][~fg].mean()


def test_limit_keeps_extras_aligned():
    full = cl.data.load("shapes", n=10)
    part = cl.data.load("shapes", n=10, limit=4)
    np.testing.assert_array_equal(part.extras["masks"], full.extras["masks"][:4])
    assert part.extras["captions"] == full.extras["captions"][:4]


@pytest.mark.parametrize("name", synthetic.TOY_SETS)
def test_toy_sets(name):
    a = cl.data.load(name, n=300)
    b = cl.data.load(name, n=300)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.x.shape == (300, 2) and a.x.dtype == np.float32 and set(np.unique(a.y)) == {0, 1}
    assert not np.array_equal(a.x, cl.data.load(name, "test", n=300).x)
    assert not np.array_equal(a.x, cl.data.load(name, n=300, seed=1).x)


def test_xor_labels_follow_the_quadrants():
    data = cl.data.load("xor", n=500, noise=0.0)
    np.testing.assert_array_equal(data.y, (data.x[:, 0] * data.x[:, 1] > 0).astype(int))


def test_adding_problem_target_is_the_marked_sum():
    x, y = cl.data.load("adding", n=50, length=20)
    assert x.shape == (50, 20, 2)
    np.testing.assert_allclose(y, (x[..., 0] * x[..., 1]).sum(1), rtol=1e-6)
    assert (x[..., 1].sum(1) == 2).all()


def test_copy_task_target_repeats_the_symbols():
    x, y = cl.data.load("copy", n=20, length=30)
    assert x.shape == y.shape == (20, 50)
    np.testing.assert_array_equal(y[:, -10:], x[:, :10])
    assert (x[:, -11] == 9).all()


def test_sine_next_value_continues_the_wave():
    x, y = cl.data.load("sine", n=20, length=40)
    assert x.shape == (20, 40, 1) and y.shape == (20,)
    s = x[..., 0]
    # a sinusoid obeys s[t+1] = 2 cos(w) s[t] - s[t-1]; estimate 2 cos(w) per sequence, extrapolate one step
    a = ((s[:, 2:] + s[:, :-2]) * s[:, 1:-1]).sum(1) / (s[:, 1:-1] ** 2).sum(1)
    predicted = a * s[:, -1] - s[:, -2]
    assert np.abs(predicted - y).max() < 0.3


@pytest.mark.parametrize("limit", [0, -5, 2.5, "10", True])
def test_bad_limit_names_value(limit):
    with pytest.raises(cl.data.DataError, match=f"limit must be a positive integer.*{limit!r}".replace("(", r"\(")):
        cl.data.load("xor", limit=limit)


def test_unknown_name_suggests():
    with pytest.raises(cl.data.DataError, match="unknown data set 'fashion-mnist'; did you mean 'fashion_mnist'"):
        cl.data.load("fashion-mnist")


def test_bad_split_and_profile():
    with pytest.raises(cl.data.DataError, match="split must be one of"):
        cl.data.load("digits", split="validation")
    with pytest.raises(cl.ProfileError, match="'laptop'"):
        cl.data.load("fashion_mnist", profile="laptop")


def test_generator_arguments_are_checked():
    with pytest.raises(cl.data.DataError, match="size must be at least 16"):
        cl.data.load("shapes", n=2, size=8)
    with pytest.raises(cl.data.DataError, match="length must be at least 2"):
        cl.data.load("adding", n=2, length=1)


def test_data_unpacks_and_repr():
    data = cl.data.load("moons", n=5)
    x, y = data
    assert x is data.x and y is data.y
    assert "moons" in repr(data) and len(data) == 5


def test_class_names_of_fashion():
    assert cl.data.info("fashion_mnist").class_names == embedded.FASHION_CLASSES


def test_tfds_passthrough_with_mock_data(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=6, data_dir=str(tmp_path)):
        data = cl.data.load("tfds:mnist", "train", data_dir=str(tmp_path))
    assert data.x.shape == (6, 28, 28, 1) and data.y.shape == (6,)
    assert data.source.name == "tfds:mnist" and str(tmp_path) in data.source.origin
    assert data.class_names == [str(i) for i in range(10)]


def test_tfds_unknown_name():
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(cl.data.DataError, match="TFDS does not know 'no_such_set_xyz'"):
        cl.data.load("tfds:no_such_set_xyz")
