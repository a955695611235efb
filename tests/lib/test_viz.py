import matplotlib

matplotlib.use("Agg")  # tests only: no display here; notebooks keep the inline backend

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import course_lib as cl  # noqa: E402


def teardown_function():
    plt.close("all")


def test_plot_history_draws_train_and_validation():
    ax = cl.viz.plot_history({"loss": [3, 2, 1], "val_loss": [3.5, 2.5, 2]}, "loss")
    lines = ax.get_lines()
    assert len(lines) == 2
    np.testing.assert_array_equal(lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(lines[1].get_ydata(), [3.5, 2.5, 2])
    assert ax.get_xlabel() == "epoch"


def test_plot_history_unknown_metric():
    with pytest.raises(KeyError, match="history has no 'acc'"):
        cl.viz.plot_history({"loss": [1]}, "acc")
    with pytest.raises(TypeError, match="keras History or a dict"):
        cl.viz.plot_history([1, 2])


def test_decision_boundary_regions_follow_the_classifier():
    x = np.array([[-1, 0], [1, 0]], dtype="float32")
    ax = cl.viz.plot_decision_boundary(lambda p: (p[:, 0] > 0).astype(float), x, [0, 1], resolution=50)
    assert ax.collections, "the regions and points were drawn"
    with pytest.raises(ValueError, match=r"x must have shape \(N, 2\)"):
        cl.viz.plot_decision_boundary(lambda p: p, np.zeros((3, 3)), [0, 1, 0])


def test_decision_boundary_uses_argmax_for_several_classes():
    seen = {}

    def scores(p):
        # three classes, no score above 0.5 anywhere: a threshold would paint one class everywhere
        seen["grid"] = p
        s = np.stack([0.3 + 0.1 * (p[:, 0] < -0.3), 0.3 + 0.1 * (p[:, 0] > 0.3), np.full(len(p), 0.35)], 1)
        return s / s.sum(1, keepdims=True) * 0.9

    ax = cl.viz.plot_decision_boundary(scores, np.array([[-1, -1], [1, 1]]), [0, 1], resolution=12)
    assert seen["grid"].shape == (144, 2)
    # three regions drawn (levels centred on class ids 0, 1, 2), which a 0.5 threshold would never give
    np.testing.assert_allclose(ax.collections[0].levels, [-0.5, 0.5, 1.5, 2.5])
    from course_lib.viz.boundary import predicted_classes

    probs = np.array([[0.4, 0.35, 0.25], [0.2, 0.3, 0.5], [0.3, 0.45, 0.25]])
    np.testing.assert_array_equal(predicted_classes(probs), [0, 2, 1])
    np.testing.assert_array_equal(predicted_classes(np.array([[0.2], [0.7]])), [0, 1])
    np.testing.assert_array_equal(predicted_classes(np.array([0.51, 0.49])), [1, 0])


def test_show_images_grid_and_titles():
    fig = cl.viz.show_images(np.zeros((5, 8, 8)), [0, 1, 2, 3, 4], list("abcde"), ncols=3, predictions=[0, 1, 0, 3, 4])
    axes = fig.get_axes()
    assert len(axes) == 6
    assert axes[2].get_title() == "a\n(c)" and axes[2].title.get_color() == "red"
    assert axes[0].get_title() == "a"
    with pytest.raises(ValueError, match="images must have shape"):
        cl.viz.show_images(np.zeros((8, 8)))


def test_plot_functions_one_line_each():
    ax = cl.viz.plot_functions({"relu": lambda t: np.maximum(t, 0), "id": lambda t: t})
    assert [l.get_label() for l in ax.get_lines()][:2] == ["relu", "id"]


def test_show_filters_one_tile_per_filter_scaled_to_its_range():
    kernel = np.random.default_rng(0).normal(size=(3, 3, 3, 5))
    fig = cl.viz.show_filters(kernel, ncols=4)
    images = [ax.get_images()[0].get_array() for ax in fig.get_axes() if ax.get_images()]
    assert len(images) == 5 and len(fig.get_axes()) == 8
    assert all(np.isclose(np.min(im), 0) and np.isclose(np.max(im), 1) for im in images)
    with pytest.raises(ValueError, match=r"\(kh, kw, c_in, c_out\)"):
        cl.viz.show_filters(np.zeros((3, 3, 2)))


def test_show_feature_maps_accepts_a_batch_of_one():
    fig = cl.viz.show_feature_maps(np.zeros((1, 6, 6, 3)), ncols=3)
    assert [ax.get_title() for ax in fig.get_axes()] == ["0", "1", "2"]
    with pytest.raises(ValueError, match="maps must have shape"):
        cl.viz.show_feature_maps(np.zeros((2, 6, 6, 3)))
