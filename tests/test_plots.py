"""Loss curves and decision boundaries are real image files; without matplotlib, a clear hint."""
import sys

import numpy as np
import pytest

from tinygrad_edu import plots
from tinygrad_edu.datasets import make_moons, make_spirals
from tinygrad_edu.train import History

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path, min_bytes=10_000):
    data = path.read_bytes()
    return data.startswith(PNG_MAGIC) and len(data) >= min_bytes


def test_loss_curve_png_from_a_history(tmp_path):
    history = History(loss=[1.0 / (i + 1) for i in range(200)], val_loss=[1.2 / (i + 1) for i in range(200)])
    path = plots.plot_loss_curve(history, tmp_path / "loss.png")
    assert path == tmp_path / "loss.png" and _is_png(path)


def test_loss_curve_svg_from_a_list_and_a_dict(tmp_path):
    svg = plots.plot_loss_curve([0.9, 0.5, 0.3], tmp_path / "loss.svg")
    text = svg.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<?xml") and "<svg" in text and len(text) > 5_000
    assert _is_png(plots.plot_loss_curve({"loss": [0.9, 0.5], "val_loss": []}, tmp_path / "d.png"))


def test_loss_curve_with_a_zero_loss_still_draws(tmp_path):
    # a log scale cannot show 0: the right panel then stays linear instead of failing
    assert _is_png(plots.plot_loss_curve([1.0, 0.5, 0.0], tmp_path / "zero.png"))


def test_loss_curve_needs_epochs(tmp_path):
    with pytest.raises(ValueError, match="no epochs"):
        plots.plot_loss_curve(History(), tmp_path / "empty.png")


def test_decision_boundary_png(tmp_path):
    X, y = make_moons(100, 0.1, seed=0)
    path = plots.plot_decision_boundary(lambda points: (points[:, 1] < 0.25).astype(int), X, y, tmp_path / "b.png",
                                        resolution=50)
    assert _is_png(path)


def test_decision_boundary_takes_scores_and_one_hot_labels(tmp_path):
    X, y = make_spirals(3, 20, 0.1, seed=0)
    seen = []

    def scores(points):
        seen.append(points.shape)
        return np.stack([points[:, 0], points[:, 1], -points[:, 0]], axis=1)

    path = plots.plot_decision_boundary(scores, X, np.eye(3)[y], tmp_path / "s.png", resolution=40)
    assert _is_png(path) and seen == [(1600, 2)]


def test_decision_boundary_needs_2d_points(tmp_path):
    with pytest.raises(ValueError, match=r"shape \(n, 2\), got \(5, 3\)"):
        plots.plot_decision_boundary(lambda p: p[:, 0] > 0, np.zeros((5, 3)), np.zeros(5, int), tmp_path / "x.png")


def test_without_matplotlib_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert not plots.have_matplotlib()
    with pytest.raises(plots.MissingDependencyError, match=r"pip install \"tinygrad_edu\[plot\]\""):
        plots.plot_loss_curve([1.0, 0.5], tmp_path / "loss.png")
    assert issubclass(plots.MissingDependencyError, ImportError)
    assert not (tmp_path / "loss.png").exists()


def test_plots_leave_pyplot_alone(tmp_path):
    """Figures are drawn without pyplot: no global backend switch, no figures kept alive."""
    before = "matplotlib.pyplot" in sys.modules
    plots.plot_loss_curve([1.0, 0.5], tmp_path / "loss.png")
    plots.plot_decision_boundary(lambda p: p[:, 0] > 0, np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 1]),
                                 tmp_path / "b.png", resolution=10)
    assert ("matplotlib.pyplot" in sys.modules) == before


def test_filters_png_one_image_per_output_channel(tmp_path):
    weight = np.random.default_rng(0).standard_normal((8, 2, 3, 3))
    assert _is_png(plots.plot_filters(weight, tmp_path / "filters.png"), min_bytes=5_000)
    with pytest.raises(ValueError, match=r"\(out_channels, in_channels, kh, kw\), got \(8, 3, 3\)"):
        plots.plot_filters(weight[:, 0], tmp_path / "bad.png")


def test_misclassified_png_and_the_count_in_its_title(tmp_path, monkeypatch):
    images = np.random.default_rng(0).random((12, 1, 8, 8))
    true = np.arange(12) % 10
    predicted = true.copy()
    predicted[[3, 7]] = 0
    titles = []
    monkeypatch.setattr("matplotlib.figure.Figure.suptitle", lambda self, text, **kw: titles.append(text))
    assert _is_png(plots.plot_misclassified(images, true, predicted, tmp_path / "wrong.png"), min_bytes=3_000)
    scores = np.eye(10)[predicted]  # scores are reduced by argmax
    assert _is_png(plots.plot_misclassified(images[:, 0], true, scores, tmp_path / "s.png", limit=1), min_bytes=1_500)
    assert _is_png(plots.plot_misclassified(images, true, true, tmp_path / "none.png"), min_bytes=3_000)
    assert titles == ["Misclassified test images: 2 of 12", "Misclassified test images: 2 of 12 (first 1 shown)",
                      "Misclassified test images: 0 of 12"]
    with pytest.raises(ValueError, match="must be as many"):
        plots.plot_misclassified(images, true[:5], predicted, tmp_path / "bad.png")


def test_without_a_path_each_plot_returns_its_figure_for_a_notebook(tmp_path):
    from matplotlib.figure import Figure

    before = set(tmp_path.iterdir())
    figures = [
        plots.plot_loss_curve([1.0, 0.5, 0.25]),
        plots.plot_decision_boundary(lambda p: p[:, 0] > 0, np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 1]),
                                     resolution=10),
        plots.plot_filters(np.ones((2, 1, 3, 3))),
        plots.plot_misclassified(np.zeros((3, 4, 4)), np.array([0, 1, 2]), np.array([0, 2, 2])),
    ]
    assert all(isinstance(fig, Figure) for fig in figures)
    assert [len(fig.axes) for fig in figures] == [2, 2, 2, 1]  # the decision boundary has its colour bar
    assert figures[0].axes[1].get_yscale() == "log"
    assert set(tmp_path.iterdir()) == before  # nothing written
