"""show_scene: boxes where the boxes are, labels from the class names, the mask overlay in the
class colours, the caption as title; and an image regression test (as in test_viz_images.py)."""

import os
import pathlib

import matplotlib

matplotlib.use("Agg")  # tests only: no display here; notebooks keep the inline backend

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.patches as mpatches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.testing.compare import compare_images  # noqa: E402

import course_lib as cl  # noqa: E402
from course_lib.viz.scenes import class_color  # noqa: E402

NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
BASELINES = pathlib.Path(__file__).parent / "baseline_images"
STYLE = {"font.family": "DejaVu Sans", "figure.dpi": 72, "savefig.dpi": 72, "text.antialiased": True}


def teardown_function():
    plt.close("all")


def _scene():
    """A 32 x 32 scene: a sandal (class 5) top left, a bag (class 8) bottom right, one padding row."""
    x = np.full((32, 32), 6, np.uint8)
    masks = np.zeros((32, 32), np.uint8)
    x[2:10, 3:12], masks[2:10, 3:12] = 150, 6
    x[20:30, 20:31], masks[20:30, 20:31] = 230, 9
    boxes = np.array([[5, 2, 3, 10, 12], [8, 20, 20, 30, 31], [-1, -1, -1, -1, -1]], np.float32)
    return x, boxes, masks


def test_show_scene_draws_boxes_labels_mask_and_caption():
    x, boxes, masks = _scene()
    ax = cl.viz.show_scene(x, boxes, masks, NAMES, caption="a sandal above a bag")
    rects = [p for p in ax.patches if isinstance(p, mpatches.Rectangle)]
    assert len(rects) == 2, "the padding row is skipped"
    # pixel i spans i - 0.5 .. i + 0.5: the box [y0, y1) x [x0, x1) is drawn around its pixels exactly
    assert rects[0].get_xy() == (2.5, 1.5) and (rects[0].get_width(), rects[0].get_height()) == (9, 8)
    assert rects[1].get_xy() == (19.5, 19.5) and (rects[1].get_width(), rects[1].get_height()) == (11, 10)
    assert mcolors.to_hex(rects[0].get_edgecolor()) == class_color(5)
    assert mcolors.to_hex(rects[1].get_edgecolor()) == class_color(8)
    assert [t.get_text() for t in ax.texts] == ["Sandal", "Bag"]
    assert ax.get_title() == "a sandal above a bag"
    overlay = ax.images[1].get_array()
    np.testing.assert_allclose(overlay[5, 5, :3], mcolors.to_rgb(class_color(5)), atol=1e-6)
    np.testing.assert_allclose(overlay[25, 25, :3], mcolors.to_rgb(class_color(8)), atol=1e-6)
    assert overlay[5, 5, 3] > 0 and overlay[15, 15, 3] == 0, "only mask pixels are coloured"


def test_show_scene_on_given_axes_with_scores_and_without_names():
    x, boxes, _ = _scene()
    _, ax = plt.subplots()
    scored = np.concatenate([boxes, [[0.93], [0.5], [0.0]]], 1)
    assert cl.viz.show_scene(x, scored, ax=ax) is ax
    assert [t.get_text() for t in ax.texts] == ["5 0.93", "8 0.50"]
    assert len(ax.images) == 1, "no mask, no overlay"


def test_show_scene_bad_input():
    x, boxes, masks = _scene()
    with pytest.raises(ValueError, match=r"masks must have the image's shape \(32, 32\), got \(16, 16\)"):
        cl.viz.show_scene(x, masks=masks[:16, :16])
    with pytest.raises(ValueError, match=r"rows \[class, y0, x0, y1, x1\].*got shape \(3, 4\)"):
        cl.viz.show_scene(x, boxes[:, 1:])
    with pytest.raises(ValueError, match=r"one image.*got shape \(2, 32, 32, 3\)"):
        cl.viz.show_scene(np.zeros((2, 32, 32, 3)))


def fig_show_scene():
    x, boxes, masks = _scene()
    return cl.viz.show_scene(x, boxes, masks, NAMES, caption="a sandal above a bag").figure


def _render(make, path):
    with plt.rc_context(STYLE):
        fig = make()
        fig.savefig(path)
        plt.close(fig)


def test_show_scene_matches_baseline(tmp_path):
    baseline = BASELINES / "fig_show_scene.png"
    if os.environ.get("COURSE_UPDATE_BASELINES"):
        _render(fig_show_scene, baseline)
    actual = tmp_path / "fig_show_scene.png"
    _render(fig_show_scene, actual)
    assert baseline.is_file(), f"no baseline {baseline}; create it with COURSE_UPDATE_BASELINES=1"
    assert compare_images(str(baseline), str(actual), tol=3.0) is None
