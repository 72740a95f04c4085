"""Pictures: grids, GIFs and loss curves drawn without touching the caller's matplotlib state."""
import sys

import numpy as np
import pytest

import minigan as mg


def _records(with_g=True):
    return [dict(step=s, loss_d=1.0 / s, d_real=0.6, d_fake=0.4, **({"loss_g": 2.0 / s} if with_g else {}))
            for s in range(1, 40)]


def test_plot_curves_leaves_the_matplotlib_backend_and_pyplot_alone(tmp_path):
    import matplotlib
    backend = matplotlib.get_backend()
    had_pyplot = "matplotlib.pyplot" in sys.modules
    mg.train.plots.plot_curves(_records(), tmp_path / "c.png", ("D(x)", "D(G(z))"))
    assert matplotlib.get_backend() == backend
    assert ("matplotlib.pyplot" in sys.modules) == had_pyplot
    assert mg.train.plots.load_png(tmp_path / "c.png").shape[1] > 500


@pytest.mark.parametrize("kinds", ["digits", "classes"])
def test_the_score_panel_says_what_the_classifier_tells(tmp_path, monkeypatch, kinds):
    from matplotlib.figure import Figure
    figures = []
    monkeypatch.setattr(Figure, "savefig", lambda self, *args, **kwargs: figures.append(self))
    scores = [dict(step=20, fid=900.0, coverage=4), dict(step=39, fid=300.0, coverage=9)]
    mg.train.plots.plot_curves(_records() + scores, tmp_path / "c.png", kinds=kinds)
    assert f"{kinds} covered (of 10)" in [ax.get_ylabel() for ax in figures[0].axes]


def test_plot_curves_with_d_steps_only(tmp_path):
    mg.train.plots.plot_curves(_records(with_g=False), tmp_path / "c.png")
    assert (tmp_path / "c.png").exists()
    with pytest.raises(ValueError, match="no records"):
        mg.train.plots.plot_curves([], tmp_path / "d.png")


def test_image_grid_shapes():
    grid = mg.train.plots.image_grid(np.zeros((5, 1, 28, 28), np.float32), nrow=5, scale=1)
    assert grid.shape == (2 + 30, 2 + 5 * 30) and grid.dtype == np.uint8
