"""--format gif: a figure's descent path grows step by step on its contour.

Small figures drawn with the house path helpers are animated directly
(``toolkit.animation``); one real lesson runs with --format png,gif.
"""

import io
import json

import numpy as np
import pytest
from PIL import Image

from toolkit import animation, cli, plots

pytestmark = pytest.mark.xdist_group(__name__)    # the module fixtures are built once: keep it on one xdist worker

GRID = np.linspace(-2.0, 2.0, 41)
FRAMES = 12         # fewer than the default (every frame is a full drawing): the bound is what is tested


def bowl(a, b):
    return 0.5 * a**2 + 2.0 * b**2 + 0.05


def descent(steps: int, lr: float = 0.1, start=(1.8, 1.5)) -> np.ndarray:
    """Gradient descent on the bowl: (steps + 1, 2) points."""
    points = [np.array(start, dtype=float)]
    for _ in range(steps):
        a, b = points[-1]
        points.append(points[-1] - lr * np.array([a, 4.0 * b]))
    return np.array(points)


def contour_figure(path: np.ndarray, diverged_at=None):
    a, b = np.meshgrid(GRID, GRID)
    return plots.linear_regression.contour_with_paths(GRID, GRID, bowl(a, b), path, path.copy(), xlabel="w", ylabel="b",
                                    title="a bowl", diverged_at=diverged_at)


def frames_of(gif: bytes) -> list[np.ndarray]:
    image = Image.open(io.BytesIO(gif))
    frames = []
    for index in range(image.n_frames):
        image.seek(index)
        frames.append(np.asarray(image.convert("RGB"), dtype=int))
    return frames


def manual_pixels(frame: np.ndarray) -> int:
    """How many pixels have the hand-written twin's blue."""
    blue = np.array([0x00, 0x72, 0xB2])
    return int((np.abs(frame - blue).sum(axis=2) < 40).sum())


@pytest.fixture(scope="module")
def long_path_gif():
    path = descent(100)
    fig = contour_figure(path)
    return fig, path, animation.path_gif(fig, most=FRAMES)


def test_the_frames_are_bounded_and_run_from_one_point_to_the_whole_path(long_path_gif):
    fig, path, gif = long_path_gif
    image = Image.open(io.BytesIO(gif))
    assert image.format == "GIF" and image.n_frames == FRAMES
    assert len(gif) <= animation.MAX_BYTES
    width, height = image.size
    inches = fig.get_size_inches()
    assert (width, height) == tuple(int(v * animation.DPI + 1e-8) for v in inches)
    frames = frames_of(gif)
    # The first frame holds the start alone (and the legend's sample); the last the whole path.
    assert manual_pixels(frames[-1]) > 4 * manual_pixels(frames[0])
    assert not np.array_equal(frames[0], frames[-1])
    # The first and the last frame are held longer than the others.
    image.seek(0)
    first = image.info["duration"]
    image.seek(image.n_frames - 1)
    assert image.info["duration"] > first > animation.FRAME_MS


def test_each_frame_shows_the_path_up_to_its_step():
    path = descent(100)
    fig = contour_figure(path)
    player = animation.PathAnimation(fig)
    assert player.last == 100
    assert player.steps[0] == 0 and player.steps[-1] == 100 and len(player.steps) == animation.MAX_FRAMES
    ax = fig.axes[0]
    line = next(line for line in ax.lines if line.get_label() == plots.MANUAL["label"])
    star = next(line for line in ax.lines if line.get_label() == "end")
    start = next(line for line in ax.lines if line.get_label() == "start")
    player.show(0)
    assert len(line.get_xdata()) == 1 and not star.get_visible() and start.get_visible()
    assert "step   0 of 100" in fig.get_suptitle().replace(animation.FIGURE_SPACE, " ")
    player.show(37)
    assert len(line.get_xdata()) == 38 and not star.get_visible()
    assert all(index < 38 for index in line.get_markevery())
    player.show(100)
    assert len(line.get_xdata()) == 101 and star.get_visible()
    np.testing.assert_array_equal(np.column_stack(line.get_data()), path)
    player.restore()
    assert fig.get_suptitle() == "" and len(line.get_xdata()) == 101 and star.get_visible()


def test_the_same_figure_gives_the_same_bytes_and_is_left_as_it_was(long_path_gif):
    fig, path, first = long_path_gif
    # The animation undid every change: the still is the one a fresh figure gives ...
    assert plots.figure_bytes(fig, "png") == plots.figure_bytes(contour_figure(path), "png")
    # ... and drawing the still first does not change the animation (made from a fresh figure).
    assert animation.path_gif(fig, most=FRAMES) == first


def test_a_short_path_gets_a_frame_per_step():
    gif = animation.path_gif(contour_figure(descent(4)))
    assert Image.open(io.BytesIO(gif)).n_frames == 5


def test_frame_steps_keep_the_first_and_the_last():
    assert animation.frame_steps(3) == [0, 1, 2, 3]
    steps = animation.frame_steps(12345)
    assert len(steps) == animation.MAX_FRAMES and steps[0] == 0 and steps[-1] == 12345
    assert steps == sorted(set(steps))
    with pytest.raises(ValueError):
        animation.frame_steps(-1)


def test_a_diverged_path_is_animated_up_to_where_it_leaves():
    path = descent(30, lr=0.525, start=(1.8, 0.3))      # b is multiplied by 1 - 0.525 * 4 = -1.1 per step
    path[26:] = np.inf
    path[28:] = np.nan
    fig = contour_figure(path, diverged_at=28)
    assert 8 < plots.shared.points_inside(path, ((-2, 2), (-2, 2))) < 26                # it leaves the window first
    gif = animation.path_gif(fig, most=8)
    assert gif is not None and Image.open(io.BytesIO(gif)).n_frames == 8
    player = animation.PathAnimation(fig)
    cross = next(line for line in fig.axes[0].lines if line.get_label() == "diverged")
    player.show(0)
    assert not cross.get_visible()
    player.show(player.last)
    assert cross.get_visible()
    player.restore()


def test_markers_placed_on_the_path_grow_with_it():
    # As lessons 04 and 05 fill the path's circles with the true loss: a scatter on the path's points.
    path = descent(20)
    fig = contour_figure(path)
    ax = fig.axes[0]
    fill = ax.scatter(path[::2, 0], path[::2, 1], c=np.arange(11), s=20, zorder=4.5)
    player = animation.PathAnimation(fig)
    player.show(5)
    assert len(fill.get_offsets()) == 3 and len(fill.get_array()) == 3      # steps 0, 2, 4
    player.restore()
    assert len(fill.get_offsets()) == 11


def test_figures_without_a_path_on_a_contour_get_no_gif():
    from toolkit.train import History

    history = History(lr=0.1, loss_manual=[3.0, 2.0, 1.0], loss_autograd=[3.0, 2.0, 1.0])
    assert animation.path_gif(plots.curves.loss_curves(history)) is None
    # Lesson 01's loss curve has a descent path, but on a curve, not on a contour.
    weights = np.linspace(-1, 3, 50)
    steps = descent(5)[:, 0]
    fig = plots.one_weight.loss_vs_weight(weights, (weights - 1) ** 2, steps, steps, (steps - 1) ** 2, (steps - 1) ** 2)
    assert animation.path_gif(fig) is None


def test_a_lesson_writes_a_gif_for_its_contour_figure_only(tmp_path, capsys):
    code = cli.main(["run", "2", "--steps", "6", "--format", "png,gif", "--quiet", "--device", "cpu",
                     "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    folder = tmp_path / "02_linear_regression"
    summary = json.loads((folder / "summary.json").read_text())
    assert "contour.gif" in summary["figures"]
    assert not {"surface.gif", "loss_curves.gif"} & set(summary["figures"])
    assert sorted(summary["figures"]) == sorted(p.name for p in folder.iterdir() if p.name != "summary.json")
    gif = (folder / "contour.gif").read_bytes()
    assert Image.open(io.BytesIO(gif)).n_frames == 7          # steps 0 to 6
    assert "wrote 3 figures (4 files: png, gif)" in capsys.readouterr().out


def test_the_counter_goes_under_a_figure_title_and_the_title_comes_back():
    fig = contour_figure(descent(10))
    fig.suptitle("ten steps", fontsize=10.5)
    player = animation.PathAnimation(fig)
    player.show(3)
    assert fig.get_suptitle().replace(animation.FIGURE_SPACE, " ") == "ten steps\nstep  3 of 10"
    player.restore()
    assert fig.get_suptitle() == "ten steps"
