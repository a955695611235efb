"""Image regression tests for the plotting helpers: each figure is compared with a stored
baseline PNG (RMS tolerance). Regenerate after an intended change with
`COURSE_UPDATE_BASELINES=1 pytest tests/lib/test_viz_images.py`, and look at the new images."""

import os
import pathlib

import matplotlib

matplotlib.use("Agg")  # tests only: no display here; notebooks keep the inline backend

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.testing.compare import compare_images  # noqa: E402

import course_lib as cl  # noqa: E402

BASELINES = pathlib.Path(__file__).parent / "baseline_images"
TOLERANCE = 3.0
STYLE = {"font.family": "DejaVu Sans", "figure.dpi": 72, "savefig.dpi": 72, "axes.prop_cycle":
         matplotlib.cycler(color=["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]), "text.antialiased": True}


def _history(scale):
    epochs = np.arange(1, 9)
    return {"loss": list(scale / epochs), "val_loss": list(scale / epochs + 0.1), "accuracy": list(1 - 0.5 / epochs)}


def fig_history():
    return cl.viz.plot_history(_history(2.0), "loss", title="history").figure


def fig_histories():
    return cl.viz.plot_histories({"SGD": _history(2.0), "Adam": _history(1.0)}, "loss", log=True).figure


def fig_loss_surface():
    t = np.linspace(0, 1, 30)[:, None]
    paths = {"straight": np.hstack([-1.5 + 2.5 * t, 2 - t]), "curved": np.hstack([-1.5 + 2.5 * t, 2 - t ** 0.5])}
    return cl.viz.plot_loss_surface(cl.optim.rosenbrock, paths, xlim=(-2, 2), ylim=(-1, 3), minimum=(1, 1),
                                    resolution=80, title="Rosenbrock").figure


def fig_layer_distributions():
    rng = np.random.default_rng(0)
    values = {f"act_{i}": rng.normal(0, 0.8 ** i, 500) for i in range(6)}
    return cl.viz.plot_layer_distributions(values, title="activations").figure


def fig_per_layer():
    names = [f"dense_{i}" for i in range(5)]
    return cl.viz.plot_per_layer({"He": [1, 1, 1, 1, 1], "tiny": [1, 0.1, 0.01, 1e-3, 1e-4]}, names,
                                 ylabel="variance").figure


def fig_weight_histograms():
    rng = np.random.default_rng(1)
    return cl.viz.plot_weight_histograms({"L2": rng.normal(0, 0.1, 2000), "L1": rng.laplace(0, 0.05, 2000)}).figure


def fig_decision_boundary():
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (60, 2))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    return cl.viz.plot_decision_boundary(lambda p: (p.sum(1) > 0).astype(float), x, y, resolution=60).figure


def fig_show_images():
    imgs = np.stack([np.full((8, 8), i * 25, np.uint8) for i in range(6)])
    return cl.viz.show_images(imgs, [0, 1, 2, 0, 1, 2], ["a", "b", "c"], ncols=3, predictions=[0, 1, 1, 0, 1, 2])


FIGURES = [fig_history, fig_histories, fig_loss_surface, fig_layer_distributions, fig_per_layer,
           fig_weight_histograms, fig_decision_boundary, fig_show_images]


def render(make, path):
    with plt.rc_context(STYLE):
        fig = make()
        fig.savefig(path)
        plt.close(fig)


@pytest.mark.parametrize("make", FIGURES, ids=lambda f: f.__name__)
def test_figure_matches_baseline(make, tmp_path):
    baseline = BASELINES / f"{make.__name__}.png"
    if os.environ.get("COURSE_UPDATE_BASELINES"):
        BASELINES.mkdir(exist_ok=True)
        render(make, baseline)
    actual = tmp_path / f"{make.__name__}.png"
    render(make, actual)
    assert baseline.is_file(), f"no baseline {baseline}; create it with COURSE_UPDATE_BASELINES=1"
    result = compare_images(str(baseline), str(actual), tol=TOLERANCE)
    assert result is None, result


def test_comparison_catches_a_changed_figure(tmp_path):
    """The harness itself must be able to fail: a figure with a different curve differs."""
    def changed():
        return cl.viz.plot_history(_history(3.0), "loss", title="history").figure

    actual = tmp_path / "changed.png"
    render(changed, actual)
    assert compare_images(str(BASELINES / "fig_history.png"), str(actual), tol=TOLERANCE) is not None
