"""kitlib.plots: the figures carry the lines, images and bars a reader expects."""
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from kitlib import plots  # noqa: E402


def test_learning_curves_draw_one_line_per_history_and_column_and_the_baselines():
    hist = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.2, "val_f1": 0.5},
            {"epoch": 2, "train_loss": 0.5, "val_loss": 0.9, "val_f1": 0.7}]
    fig = plots.learning_curves({"a": hist, "b": hist[:1]}, {"loss": ["train_loss", "val_loss"], "F1": ["val_f1"]},
                                baselines={"F1": {"forest": 0.6}}, logy=["loss"])
    loss, f1 = fig.axes
    assert [line.get_label() for line in loss.get_lines()] == ["a train_loss", "a val_loss", "b train_loss",
                                                                 "b val_loss"]
    assert loss.get_yscale() == "log" and loss.get_title() == "loss"
    assert [line.get_label() for line in f1.get_lines()] == ["a", "b", "forest"]
    np.testing.assert_allclose(f1.get_lines()[0].get_ydata(), [0.5, 0.7])
    assert f1.get_lines()[-1].get_ydata()[0] == 0.6


def test_image_grid_shows_every_image_with_its_title():
    images = np.random.default_rng(0).integers(0, 255, size=(5, 8, 8))
    fig = plots.image_grid(images, [f"#{i}" for i in range(5)], colors=["red"] * 5, cols=3)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 6 and len(shown) == 5
    assert [ax.get_title() for ax in shown] == ["#0", "#1", "#2", "#3", "#4"]
    np.testing.assert_array_equal(shown[2].images[0].get_array(), images[2])


def test_confusion_matrix_and_fold_scores():
    fig = plots.confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], ["a", "b", "c"], title="val")
    assert fig.axes[0].get_title() == "val" and len(fig.axes[0].texts) == 9
    fig = plots.fold_scores({"x": [0.5, 0.7], "y": [0.6, 0.6]}, chance=0.2)
    bars = fig.axes[0].patches
    assert [round(b.get_height(), 6) for b in bars] == [0.6, 0.6]
