"""Figures for course notes: width presets, titles moved into captions, small searchable vector files, the index."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from toolkit import catalogue, cli, figure_index, plots
from toolkit.options import WIDTHS, ArgumentParser, add_run_options, options_from, to_argv

PROJECT = Path(__file__).resolve().parent.parent
DPI = 200

pytestmark = pytest.mark.xdist_group(__name__)    # the module fixtures are built once: keep it on one xdist worker

# A tiny lesson with the kinds of figure the lessons draw: a one-panel figure with its title on the axes,
# a contour with a colour bar, and two panels side by side under a suptitle (lesson 2: the first only).
LESSON = '''# # {number:02d} · A tiny lesson with figures
import numpy as np
from matplotlib.figure import Figure

from toolkit import data, lesson, manual, plots
from toolkit.twins import make_twins

run = lesson.start(__file__, steps=4, lr=0.1)
x, y = data.noisy_line(n=8, seed=run.seed, device=run.device, dtype=run.dtype)
twins = make_twins([1, 1], loss=manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)
run.check(twins, x, y)
history = run.train(twins, x, y)
run.save(plots.curves.loss_curves(history, title="Loss per step, a tiny run"), "loss",
         caption="Both twins' loss per step.", alt="A falling line.")
if {all_figures}:
    a, b = np.linspace(-2, 2, 60), np.linspace(-1, 3, 50)
    Z = (a[None, :] - 0.5) ** 2 + 3 * (b[:, None] - 1) ** 2 + 0.1
    path = np.column_stack([np.linspace(1.5, 0.5, 5), np.linspace(0, 1, 5)])
    run.save(plots.linear_regression.contour_with_paths(a, b, Z, path, path, xlabel="weight w", ylabel="bias b", title="A bowl"),
             "contour", caption="The path on the bowl.", alt="Contours with a path.")
    with plots.house_style():
        fig = Figure(figsize=(8.8, 3.6), layout="constrained")
        left, right = fig.subplots(1, 2)
        left.plot([0, 1, 2], [2, 1, 0.5], label="first")
        right.plot([0, 1, 2], [0.5, 1, 2], label="second")
        left.set_title("left panel")
        right.set_title("right panel")
        left.set_xlabel("step")
        right.set_xlabel("step")
        fig.legend(loc="outside lower center", ncols=2)
        fig.suptitle("Two panels, side by side")
    run.save(fig, "panels", caption="Two panels.", alt="Two line charts.")
run.finish()
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project folder of our own with two tiny lessons in lessons/."""
    folder = tmp_path_factory.mktemp("project")
    (folder / "lessons").mkdir()
    for number in (1, 2):
        (folder / "lessons" / f"{number:02d}_tiny.py").write_text(LESSON.format(number=number,
                                                                                all_figures=number == 1))
    return folder


def figures(project, out, *flags):
    """``python -m toolkit figures FLAGS --out OUT`` over the tiny lessons."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(catalogue, "PROJECT", project)
        patch.chdir(project)
        assert cli.main(["figures", "--quiet", "--device", "cpu", "--out", str(out), "--jobs", "1", *flags]) == 0
    return out


@pytest.fixture(scope="module")
def notes(project):
    """The tiny lessons at column width, without titles, in every format."""
    return figures(project, project / "notes", "--width", "column", "--no-titles", "--format", "png,svg,pdf")


def test_presets_are_the_options_choices():
    assert set(WIDTHS) == set(plots.WIDTH_PRESETS)
    assert plots.WIDTH_PRESETS["column"].width == 3.4 and plots.WIDTH_PRESETS["page"].width == 7.0


def test_width_and_titles_travel_as_flags():
    parser = ArgumentParser()
    add_run_options(parser)
    options = options_from(parser.parse_args(["--width", "page", "--no-titles"]))
    assert (options.width, options.titles) == ("page", False)
    assert options_from(parser.parse_args(to_argv(options))) == options
    assert options_from(parser.parse_args([])).width is None and options_from(parser.parse_args([])).titles
    with pytest.raises(SystemExit):
        parser.parse_args(["--width", "poster"])


def test_notes_fonts_are_8_to_9_points_and_keep_their_order():
    assert plots.notes.notes_font_size(7.5) == 8.0 and plots.notes.notes_font_size(10.5) == 9.0
    sizes = [plots.notes.notes_font_size(s) for s in (6, 8, 8.5, 9, 10, 10.5, 14)]
    assert sizes == sorted(sizes) and min(sizes) == 8.0 and max(sizes) == 9.0


def three_panels():
    """A figure of three panels side by side as the house builds it (``style.panels``), with long texts."""
    with plots.house_style():
        fig, axes = plots.style.panels(8.6, 3.4, 3, 3, sharey=True)
        for k, ax in enumerate(axes):
            ax.plot(np.arange(10), np.arange(10) ** (k + 1), label=f"power {k + 1}")
            ax.set_title(f"panel {k + 1} with a long title")
            ax.set_xlabel("step")
        axes[0].set_ylabel("value")
        plots.shared.figure_legend(fig, *plots.shared.merged_handles(axes), ncols=3,
                                   title="a caption line under the figure, long enough to need wrapping at a column")
        fig.suptitle("A title")
    return fig, axes


def assert_notes_figure(fig, preset):
    """Exactly the preset's width in pixels, no taller than its limit, nothing outside, every text 8 to 9 pt."""
    png = plots.figure_bytes(fig, "png", tight=False)
    pixels = imread(io.BytesIO(png))
    assert pixels.shape[1] == round(plots.WIDTH_PRESETS[preset].width * DPI)
    assert pixels.shape[0] <= plots.WIDTH_PRESETS[preset].max_height * DPI
    drawn = fig.get_tightbbox()
    assert drawn.x0 >= -0.01 and drawn.x1 <= fig.get_figwidth() + 0.01, "something sticks out of the figure"
    texts = [t for t in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text")) if t.get_text()]
    assert all(8.0 <= t.get_fontsize() <= 9.0 for t in texts)


@pytest.mark.parametrize("preset", WIDTHS)
def test_a_figure_built_for_a_width_is_that_wide_with_its_panels_in_reading_order(preset):
    plots.style.use_width(preset)
    try:
        fig, axes = three_panels()
    finally:
        plots.style.use_width(None)
    plots.fit_to_width(fig, preset)
    assert_notes_figure(fig, preset)
    lefts = [ax.get_position().x0 for ax in axes]
    if preset == "column":      # three panels in 3.4 inches would be unreadable: they are stacked, in order
        assert len({round(x, 3) for x in lefts}) == 1
        tops = [ax.get_position().y1 for ax in axes]
        assert tops == sorted(tops, reverse=True)
        # Stacked, every panel is the first of its row: each shows its y tick labels.
        assert all(ax.get_subplotspec().is_first_col() for ax in axes)
        assert all(label.get_visible() for ax in axes for label in ax.get_yticklabels() if label.get_text())
    else:
        assert lefts == sorted(lefts) and len({round(x, 3) for x in lefts}) == 3


@pytest.mark.parametrize("preset", WIDTHS)
def test_a_figure_built_the_usual_way_is_scaled_to_the_width(preset):
    with plots.house_style():
        fig = Figure(figsize=(8.6, 3.4), layout="constrained")
        axes = fig.subplots(1, 2)
        for ax in axes:
            ax.plot([0, 1, 2], [2, 1, 0.5], label="a line")
            ax.set_title("a panel", fontsize=14)
        fig.legend(loc="outside lower center", ncols=2)
    plots.fit_to_width(fig, preset)
    assert_notes_figure(fig, preset)


def test_no_figure_function_sets_a_font_size_or_a_colour_of_its_own():
    # The house style is set in one place: style.py holds every colour; sizes come from its rcParams.
    import re

    for path in sorted((PROJECT / "toolkit" / "plots").glob("*.py")):
        if path.name == "style.py":
            continue
        source = path.read_text()
        assert "fontsize=" not in source and '"size":' not in source, f"{path.name} sets a font size"
        colours = re.findall(r'\b(?:color|colors|facecolor|edgecolor|edgecolors|foreground|cmap|c)\s*=\s*"([^"]+)"', source)
        colours += re.findall(r'"#[0-9A-Fa-f]{6}"', source)
        assert not colours, f"{path.name} holds colours of its own: {colours}"


def test_titles_move_into_the_caption():
    history_like = Figure(figsize=(4, 3))
    ax = history_like.add_subplot()
    ax.set_title("Loss per step,\nlr = 0.1")
    assert plots.take_title(history_like) == "Loss per step, lr = 0.1" and ax.get_title() == ""
    two = Figure(figsize=(6, 3))
    a, b = two.subplots(1, 2)
    a.set_title("left")
    two.suptitle("The whole figure")
    assert plots.take_title(two) == "The whole figure" and a.get_title() == "left" and two.get_suptitle() == ""


def test_column_notes_are_one_width_without_titles_with_text_in_svg(notes):
    widths = {imread(path).shape[1] for path in notes.glob("*/*.png")}
    assert widths == {round(3.4 * DPI)}
    summary = json.loads((notes / "01_tiny" / "summary.json").read_text())
    captions = summary["captions"]
    assert captions["loss"]["caption"] == "Loss per step, a tiny run. Both twins' loss per step."
    assert captions["panels"]["caption"].startswith("Two panels, side by side. Two panels.")
    assert captions["contour"]["alt"] == "Contours with a path."
    assert summary["command"] == "python -m toolkit run 1 --seed 0 --device cpu --format png,svg,pdf " \
                                 "--width column --no-titles"
    svg = (notes / "01_tiny" / "contour.svg").read_text()
    assert "weight w" in svg and "bias b" in svg, "SVG text must stay text"
    assert "A bowl" not in svg, "the title went into the caption"
    assert "<image" in svg, "the filled contours are stored as an image"
    assert b"/Subtype /Image" in (notes / "01_tiny" / "contour.pdf").read_bytes()


def contour_figure(size: int = 60):
    a, b = np.linspace(-2, 2, size), np.linspace(-1, 3, size - 10)
    Z = (a[None, :] - 0.5) ** 2 + 3 * (b[:, None] - 1) ** 2 + 0.1
    path = np.column_stack([np.linspace(1.5, 0.5, 5), np.linspace(0, 1, 5)])
    return plots.linear_regression.contour_with_paths(a, b, Z, path, path, xlabel="weight w", ylabel="bias b", title="A bowl")


def test_vector_files_are_byte_identical_for_the_same_figure():
    def files():
        fig = contour_figure()
        plots.take_title(fig)
        plots.fit_to_width(fig, "column")
        return [plots.figure_bytes(fig, fmt, tight=False) for fmt in ("png", "svg", "pdf")]

    assert files() == files()


def test_rasterised_contours_make_smaller_vector_files():
    fig = contour_figure(200)
    with_images = {fmt: len(plots.figure_bytes(fig, fmt)) for fmt in ("svg", "pdf")}
    filled = [c for c in fig.findobj(lambda a: getattr(a, "filled", False))]
    assert filled and not any(c.get_rasterized() for c in filled), "the flags are put back after saving"
    plain = plots.notes._rasterised_fills
    try:
        plots.notes._rasterised_fills = lambda fig, on: plain(fig, False)
        as_vectors = {fmt: len(plots.figure_bytes(fig, fmt)) for fmt in ("svg", "pdf")}
    finally:
        plots.notes._rasterised_fills = plain
    assert all(with_images[fmt] < as_vectors[fmt] for fmt in with_images), (with_images, as_vectors)


def test_the_index_lists_exactly_the_files_there(notes):
    index = (notes / "README.md").read_text()
    assert figure_index.listed_files(index) == figure_index.present_files(notes)
    assert len(figure_index.present_files(notes)) == (3 + 1) * 3 + 2     # 3 + 1 figures in 3 formats, 2 summaries
    assert "`python -m toolkit figures --device cpu --format png,svg,pdf --width column --no-titles`" in index
    assert "## 01 · A tiny lesson with figures" in index and "`python -m toolkit run 2 --seed 0" in index
    assert "![Contours with a path.](01_tiny/contour.png)" in index
    assert "Loss per step, a tiny run. Both twins' loss per step." in index
    assert "did not diverge" in index and "largest gradient difference between the twins" in index and "(manual)" in index
    assert not list(notes.glob(".*")), "no temporary files left behind"


def test_the_index_follows_the_folder(tmp_path):
    # Built from what is there: a file added or removed by hand shows up, a folder without summary is no lesson.
    lesson = tmp_path / "01_a"
    lesson.mkdir()
    (lesson / "summary.json").write_text(json.dumps({
        "title": "01 · A", "seed": 3, "final_loss": {"manual": None, "autograd": None}, "max_abs_grad_diff": 0.0,
        "diverged": True, "diverged_at_step": 7, "captions": {"b": {"caption": "L* [x](y)", "alt": None}}}))
    for name in ("a.png", "b.svg", "b.pdf", "c (1).png"):
        (lesson / name).write_bytes(b"x")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "x.png").write_bytes(b"x")
    index = figure_index.write_index(tmp_path).read_text()
    assert figure_index.listed_files(index) == figure_index.present_files(tmp_path) == {
        "01_a/summary.json", "01_a/a.png", "01_a/b.svg", "01_a/b.pdf", "01_a/c (1).png"}
    assert index.index("### b") < index.index("### a"), "figures in the order the lesson saved them"
    assert "diverged at step 7" in index and "not a number (manual)" in index
    assert "`python -m toolkit run 1 --seed 3`" in index and r"L\* \[x\](y)" in index


def test_the_committed_gallery_index_lists_exactly_the_committed_figures():
    folder = PROJECT / "figures"
    index = folder / "README.md"
    assert index.is_file(), "figures/README.md is missing: regenerate the gallery with python -m toolkit figures"
    listed, present = figure_index.listed_files(index.read_text()), figure_index.present_files(folder)
    missing, extra = sorted(present - listed), sorted(listed - present)
    assert not missing and not extra, (f"figures/README.md is out of date (regenerate the gallery with "
                                       f"python -m toolkit figures): not listed: {missing}; listed but not there: "
                                       f"{extra}")
