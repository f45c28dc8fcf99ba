"""The explorer, driven without a browser: matplotlib mouse and key events on an Agg canvas, and
the masks it shows compared with `SamPredictor.predict` for the same prompts. Random weights
(seeded), a small world scene."""

import warnings

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.backend_bases import KeyEvent, MouseButton, MouseEvent
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import samdec
from samdec.explorer import Explorer, draw_explorer_snapshot, measure_click_latency
from samdec.predictor import SamPredictor
from samdec.sam import build_sam
from samdec.world import generate_scene


@pytest.fixture(scope="module")
def sam():
    torch.manual_seed(0)
    return build_sam().eval()


@pytest.fixture(scope="module")
def image():
    return generate_scene(3, size=(256, 384)).render().image


@pytest.fixture(scope="module")
def predictor(sam, image):
    predictor = SamPredictor(sam)
    predictor.set_image(image)
    return predictor


@pytest.fixture
def explorer(sam, image):
    # about 1.2 screen pixels per image pixel: each image pixel holds a whole screen pixel's centre
    figure = Figure(figsize=(10, 7))
    FigureCanvasAgg(figure)
    explorer = Explorer(image, sam, figure=figure)
    figure.canvas.draw()  # lays the axes out (their aspect), as the first display does
    return explorer


def _screen(ax, x, y):
    # the whole screen pixel (events carry integers) nearest to (x, y) in the image's pixels
    sx, sy = ax.transData.transform((x, y))
    candidates = [(round(sx) + dx, round(sy) + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
    back = ax.transData.inverted().transform(candidates)
    return candidates[int(np.argmin(np.hypot(back[:, 0] - x, back[:, 1] - y)))]


def _mouse(explorer, name, x, y, button=MouseButton.LEFT, modifiers=None):
    # (x, y) in the image's pixels, as imshow places them, to the screen, and an event there
    canvas = explorer.figure.canvas
    sx, sy = _screen(explorer.ax_image, x, y)
    event = MouseEvent(name, canvas, sx, sy, button, modifiers=modifiers)
    canvas.callbacks.process(name, event)


def click(explorer, x, y, button=MouseButton.LEFT, modifiers=None):
    _mouse(explorer, "button_press_event", x, y, button, modifiers)
    _mouse(explorer, "button_release_event", x, y, button, modifiers)


def drag(explorer, start, end):
    _mouse(explorer, "button_press_event", *start)
    middle = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
    _mouse(explorer, "motion_notify_event", *middle)
    assert explorer._band_artist.get_visible()  # the rubber band follows the drag
    _mouse(explorer, "motion_notify_event", *end)
    _mouse(explorer, "button_release_event", *end)


def key(explorer, name):
    canvas = explorer.figure.canvas
    canvas.callbacks.process("key_press_event", KeyEvent("key_press_event", canvas, name, 10, 10))


def assert_shows(explorer, predictor):
    """What the explorer holds and draws is what SamPredictor.predict gives for its prompts."""
    prompts = {"box": None if explorer.box is None else np.array(explorer.box)}
    if explorer.points:
        prompts["point_coords"] = np.array(explorer.points)
        prompts["point_labels"] = np.array(explorer.labels)
    masks, scores, _ = predictor.predict(**prompts, multimask_output=True)
    single, single_score, _ = predictor.predict(**prompts, multimask_output=False)

    np.testing.assert_array_equal(explorer.masks, masks)
    torch.testing.assert_close(explorer.scores, scores)
    np.testing.assert_array_equal(explorer.single_mask, single[0])
    assert explorer.single_score == pytest.approx(float(single_score[0]), abs=1e-6)
    # one point: the best of three; several points or a box: the single mask
    ambiguous = explorer.box is None and len(explorer.points) == 1
    assert explorer.multimask == ambiguous
    expected = masks[np.argmax(scores)] if ambiguous else single[0]
    np.testing.assert_array_equal(explorer.mask, expected)
    assert explorer.chosen == (int(np.argmax(scores)) if ambiguous else None)

    # the drawn data (the test image is small: drawn at full resolution)
    np.testing.assert_array_equal(explorer._mask_artist.get_array(), expected)
    for artist, mask in zip(explorer._panel_artists, masks, strict=True):
        np.testing.assert_array_equal(artist.get_array(), mask)
    assert set(explorer.timings) >= {"model", "artists", "draw", "drawn"}


def assert_blank(explorer):
    assert (explorer.points, explorer.labels, explorer.box) == ([], [], None)
    assert explorer.masks is None and explorer.mask is None and explorer.attention is None
    assert not explorer._mask_artist.get_array().any()
    assert not any(artist.get_array().any() for artist in explorer._panel_artists)
    assert not explorer._box_artist.get_visible()
    assert not explorer._attention_artist.get_visible()


def test_left_click_adds_a_positive_point(explorer, predictor):
    click(explorer, 150, 100)
    assert explorer.points == [(150, 100)] and explorer.labels == [1]
    # imshow puts pixel (150, 100) between 149.5 and 150.5 (and 99.5 and 100.5): a click
    # anywhere there is that pixel, which SAM reads as the same pixel, and the marker sits on
    # its centre; a position outside the image is clamped to it
    assert explorer._pixel(150.4, 99.6) == explorer._pixel(149.6, 100.4) == (150, 100)
    assert explorer._pixel(-3, 400) == (0, 255)
    assert_shows(explorer, predictor)
    positives = explorer._markers[explorer.ax_image, 1].get_offsets()
    np.testing.assert_array_equal(positives, [[150, 100]])
    assert len(explorer._markers[explorer.ax_image, 0].get_offsets()) == 0


def test_right_click_and_shift_click_add_negative_points(explorer, predictor):
    click(explorer, 150, 100)
    click(explorer, 60, 200, button=MouseButton.RIGHT)
    assert_shows(explorer, predictor)
    click(explorer, 300, 40, modifiers={"shift"})
    assert explorer.points == [(150, 100), (60, 200), (300, 40)]
    assert explorer.labels == [1, 0, 0]
    assert_shows(explorer, predictor)
    negatives = explorer._markers[explorer.ax_image, 0].get_offsets()
    np.testing.assert_array_equal(negatives, [[60, 200], [300, 40]])


def test_drag_draws_a_box_and_points_add_to_it(explorer, predictor):
    drag(explorer, (300, 210), (40, 30))  # corners in any order
    assert explorer.box == (40, 30, 300, 210) and explorer.points == []
    assert not explorer._band_artist.get_visible()
    assert_shows(explorer, predictor)
    box = explorer._box_artist
    assert (box.get_x(), box.get_y(), box.get_width(), box.get_height()) == (40, 30, 260, 180)

    click(explorer, 120, 100)
    assert explorer.box == (40, 30, 300, 210) and explorer.points == [(120, 100)]
    assert_shows(explorer, predictor)
    drag(explorer, (10, 10), (100, 80))  # a new box replaces the old one
    assert explorer.box == (10, 10, 100, 80) and explorer.points == [(120, 100)]
    assert_shows(explorer, predictor)


@pytest.mark.parametrize("how", ["c", "escape", "button"])
def test_clearing(explorer, predictor, how):
    click(explorer, 150, 100)
    drag(explorer, (40, 30), (300, 210))
    if how == "button":
        canvas = explorer.figure.canvas
        x, y = explorer._clear_axes.transAxes.transform((0.5, 0.5))
        for name in ("button_press_event", "button_release_event"):
            canvas.callbacks.process(name, MouseEvent(name, canvas, x, y, MouseButton.LEFT))
    else:
        key(explorer, how)
    assert_blank(explorer)
    click(explorer, 200, 120)  # and it starts again
    assert explorer.points == [(200, 120)]
    assert_shows(explorer, predictor)


def test_clicks_elsewhere_do_nothing(explorer):
    canvas = explorer.figure.canvas
    x, y = explorer.ax_masks[0].transAxes.transform((0.5, 0.5))  # on a mask panel
    for name in ("button_press_event", "button_release_event"):
        canvas.callbacks.process(name, MouseEvent(name, canvas, x, y, MouseButton.LEFT))
    click(explorer, 150, 100, button=MouseButton.MIDDLE)
    key(explorer, "x")
    assert_blank(explorer)


def test_attention_is_the_newest_point_tokens_final_attention(explorer, sam, predictor):
    module = sam.mask_decoder.transformer.final_attn_token_to_image
    click(explorer, 150, 100)
    click(explorer, 60, 200, button=MouseButton.RIGHT)
    assert not module._forward_pre_hooks  # the explorer's hook is gone after each update

    captured = {}
    hook = module.register_forward_pre_hook(
        lambda _m, _a, kwargs: captured.update(kwargs), with_kwargs=True
    )
    try:
        predictor.predict(np.array(explorer.points), np.array(explorer.labels))
    finally:
        hook.remove()
    # tokens: IoU, four mask tokens, then the two points: the newest is token 6
    with torch.no_grad():
        weights = module.attention_weights(captured["q"], captured["k"])  # 1 x heads x 8 x 4096
    expected = weights[0, :, 6].mean(0).reshape(64, 64).numpy()
    np.testing.assert_allclose(explorer.attention, expected, rtol=1e-5, atol=1e-8)
    assert explorer.attention.sum() == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_array_equal(explorer._attention_artist.get_array(), explorer.attention)
    # the panel marks the point whose token it shows
    shown = explorer._markers[explorer.ax_attention, 0].get_offsets()
    np.testing.assert_array_equal(shown, [[60, 200]])
    assert len(explorer._markers[explorer.ax_attention, 1].get_offsets()) == 0


def test_attention_grid_lines_up_with_the_image(explorer):
    # the 64 x 64 grid covers the padded 1024 square, cell edges on pixel edges (imshow's
    # -0.5): the 384 x 256 image is resized to 1024 x 683 (683/256 a little over 1024/384),
    # so the grid spans 384 pixels across and 1024 * 256/683 down, the padding below the image
    left, right, bottom, top = explorer._attention_artist.get_extent()
    assert (left, right, top) == pytest.approx((-0.5, 383.5, -0.5))
    assert bottom == pytest.approx(1024 * 256 / 683 - 0.5)


def test_snapshot_is_deterministic(sam, image, tmp_path):
    paths = [
        draw_explorer_snapshot(sam, tmp_path / f"{i}.png", image, points=[(150, 100)])
        for i in range(2)
    ]
    content = paths[0].read_bytes()
    assert content.startswith(b"\x89PNG") and content == paths[1].read_bytes()


def test_explore_is_exported_and_warns_without_a_widget_backend(sam, image):
    import matplotlib.pyplot as plt

    assert samdec.explore is samdec.explorer.explore
    with matplotlib.rc_context({"backend": "agg"}), pytest.warns(UserWarning, match="widget"):
        explorer = samdec.explore(image, sam)
    try:
        assert explorer.figure in [plt.figure(n) for n in plt.get_fignums()]
        assert explorer.figure._samdec_explorer is explorer  # kept alive by its figure
    finally:
        plt.close(explorer.figure)


def test_latency_measurement_runs(sam, image):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        medians = measure_click_latency(image, sam, clicks=1)
    assert set(medians) == {"model", "artists", "draw", "drawn", "total"}
    assert all(value > 0 for value in medians.values())
