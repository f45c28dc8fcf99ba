"""`samdec.explore`: click on an image in JupyterLab and watch SAM's decoder answer.

In a notebook (JupyterLab, with ipympl installed: `make lab` does it)::

    %matplotlib widget
    import samdec
    explorer = samdec.explore(image)  # an H x W x 3 uint8 RGB photo; sam=None: the trained model

Left click adds a positive point, right click (or shift + left click) a negative one, a drag draws
a box (a new drag replaces it), and `c`, `escape` or the "clear" button start again. The figure
shows the chosen mask over the image with the prompts, what the newest point's token attends to
in the decoder's final token-to-image attention, and the three masks SAM proposes for an ambiguous
prompt with their predicted IoU.

The image encoder runs once, in `SamPredictor.set_image`; each click runs the prompt encoder and the
mask decoder once (all four mask tokens in one pass: the three multimask outputs and the single
mask are slices of it), then redraws. The state is plain attributes (`points`, `labels`, `box`,
`masks`, `scores`, `mask`, `score`, `attention`, `timings`), so a later cell can read it.
"""

import argparse
import io
import math
import time
import warnings
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np
import torch
from matplotlib.backend_bases import MouseButton
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.widgets import Button

from samdec.predictor import SamPredictor
from samdec.sam import Sam
from samdec.transforms import transform_boxes, transform_coords

# the decoder's tokens: one IoU token and four mask tokens come before the prompt tokens
PROMPT_TOKENS_START = 5
DRAG_PIXELS = 6  # a press and release further apart than this (screen pixels) is a drag: a box
DISPLAY_LONG_SIDE = 1024  # images and masks are drawn with a stride that brings them under this
MASK_COLOUR = (0.12, 0.47, 1.0)
POSITIVE_COLOUR, NEGATIVE_COLOUR = "#22dd44", "#ff3030"
CLEAR_KEYS = ("c", "escape")
FIGSIZE = (8, 5.6)  # inches; ipympl shows 100 pixels per inch: fits beside the file browser
HELP = (
    "left click: + point    right or shift click: − point    drag: box    c / esc / button: clear"
)


class Explorer:
    """The figure and its state. Made by `samdec.explore`; see the module's docstring.

    Attributes a notebook can read after clicking (all in the original image's pixels, (x, y)):
      points, labels: the clicked points and their labels (1 positive, 0 negative)
      box: (x0, y0, x1, y1) or None
      masks, scores: the three multimask outputs (3 x H x W bool) and their predicted IoU
      single_mask, single_score: mask token 0's output, SAM's answer to an unambiguous prompt
      multimask: whether the prompt is ambiguous (a single point, no box), so that the shown mask
        is the best of the three (`chosen`); otherwise the single mask is shown (`chosen` None),
        as SamPredictor's docstring advises
      mask, score: the mask shown over the image and its predicted IoU
      attention: the 64 x 64 grid of what the newest point's token (or, with a box and no point,
        the box corners' tokens) attends to in the final token-to-image attention, heads averaged
      timings: milliseconds of the last update: "model" (prompt encoder, decoder, masks to the
        original size, attention), "artists" (updating the figure's data), "draw" (the draw
        request: a full render with a non-interactive backend, a message to the browser with
        ipympl), and "drawn" (from the click to the end of the render, when it happened)
    """

    def __init__(
        self,
        image: np.ndarray,
        sam: Sam,
        figure: Figure | None = None,
        show_timings: bool = True,
    ) -> None:
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(
                "image must be an H x W x 3 uint8 RGB numpy array, got "
                + (f"shape {image.shape}" if isinstance(image, np.ndarray) else str(type(image)))
            )
        self.image = image
        self.sam = sam
        self.predictor = SamPredictor(sam)
        start = time.perf_counter()
        self.predictor.set_image(image)
        self.embed_ms = 1000 * (time.perf_counter() - start)
        self.show_timings = show_timings

        self.points: list[tuple[int, int]] = []
        self.labels: list[int] = []
        self.box: tuple[int, int, int, int] | None = None
        self.masks: np.ndarray | None = None
        self.scores: np.ndarray | None = None
        self.single_mask: np.ndarray | None = None
        self.single_score: float | None = None
        self.multimask = False
        self.chosen: int | None = None
        self.mask: np.ndarray | None = None
        self.score: float | None = None
        self.attention: np.ndarray | None = None
        self.attention_of = ""
        self.timings: dict[str, float] = {}
        self._press = None  # (x, y) on the screen, (x, y) in data, button, shift held
        self._update_started: float | None = None  # when the click or call began
        self._drawn_since: float | None = None  # the same, until the figure is drawn

        self.figure = figure if figure is not None else Figure(figsize=FIGSIZE)
        # the figure keeps the explorer alive: matplotlib holds callbacks by weak reference
        self.figure._samdec_explorer = self
        self._build_figure()
        canvas = self.figure.canvas
        self._connections = [
            canvas.mpl_connect("button_press_event", self._on_press),
            canvas.mpl_connect("motion_notify_event", self._on_motion),
            canvas.mpl_connect("button_release_event", self._on_release),
            canvas.mpl_connect("key_press_event", self._on_key),
            canvas.mpl_connect("draw_event", self._on_draw),
        ]

    def __repr__(self) -> str:
        return f"Explorer(points={self.points}, labels={self.labels}, box={self.box})"

    # --- prompts ---

    def add_point(self, x: float, y: float, label: int = 1) -> None:
        """Adds a point at pixel (x, y) of the original image (rounded to the pixel it falls in)
        with label 1 (positive) or 0 (negative), and updates the figure."""
        if label not in (0, 1):
            raise ValueError(f"label must be 1 (positive) or 0 (negative), got {label!r}")
        self._start_update()
        self.points.append(self._pixel(x, y))
        self.labels.append(int(label))
        self.update()

    def set_box(self, box: Sequence[float]) -> None:
        """Sets the box (x0, y0, x1, y1), corners in any order, in the original image's pixels,
        and updates the figure. A box replaces the previous one."""
        self._start_update()
        (xa, ya), (xb, yb) = self._pixel(*box[:2]), self._pixel(*box[2:])
        self.box = (min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb))
        self.update()

    def clear(self) -> None:
        """Removes every point and the box, and blanks the masks."""
        self._start_update()
        self.points, self.labels, self.box = [], [], None
        self.update()

    def _pixel(self, x: float, y: float) -> tuple[int, int]:
        # The pixel a position falls in, clamped to the image. Positions come from matplotlib's
        # imshow, which puts pixel i's centre at i (pixel i spans i - 0.5 .. i + 0.5), so the
        # pixel under the cursor is round(x). SAM reads a point x as pixel x too: the prompt
        # encoder adds 0.5 to reach that pixel's centre in its own frame, where pixel i spans
        # i .. i + 1. So the integer is passed to SAM as it is and the marker is drawn at that
        # same integer, on the centre of the clicked pixel; no half-pixel shift is needed in
        # either direction. (SAM adds its 0.5 after scaling to the 1024 frame, so the centre it
        # reads is the clicked pixel's centre give or take half a resized pixel: SAM's own
        # convention, the same as `SamPredictor.predict`'s.)
        h, w = self.image.shape[:2]
        return int(np.clip(round(x), 0, w - 1)), int(np.clip(round(y), 0, h - 1))

    # --- the model ---

    @torch.no_grad()
    def _run_model(self) -> None:
        """The prompt encoder and one pass of the decoder for the current prompts; the masks at
        the original size; the final attention of the newest point's token."""
        model, predictor = self.sam, self.predictor
        img_size = model.image_encoder.img_size
        points, boxes = None, None
        if self.points:
            # the same conversions as SamPredictor.predict: float64 pixels to the 1024 frame
            coords = torch.tensor(self.points, dtype=torch.float64)
            coords = transform_coords(coords, predictor.original_size, img_size)
            points = (coords[None], torch.tensor([self.labels], dtype=torch.int))
        if self.box is not None:
            box = torch.tensor([self.box], dtype=torch.float64)
            boxes = transform_boxes(box, predictor.original_size, img_size)

        attention_module = model.mask_decoder.transformer.final_attn_token_to_image
        captured = {}

        def capture_query_and_key(module, args, kwargs):
            captured["q"], captured["k"] = kwargs["q"], kwargs["k"]

        hook = attention_module.register_forward_pre_hook(capture_query_and_key, with_kwargs=True)
        try:
            sparse, dense = model.prompt_encoder(points=points, boxes=boxes, masks=None)
            # all four mask tokens: forward(multimask_output=...) returns the slice [1:] or [0:1]
            low_res_masks, iou_predictions = model.mask_decoder.predict_masks(
                image_embeddings=predictor.features,
                image_pe=model.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
            )
        finally:
            hook.remove()
        logits = model.postprocess_masks(
            low_res_masks, predictor.input_size, predictor.original_size
        )
        masks = (logits > model.mask_threshold)[0].numpy()
        scores = iou_predictions[0].numpy()
        self.single_mask, self.single_score = masks[0], float(scores[0])
        self.masks, self.scores = masks[1:], scores[1:]

        # the prompt tokens: the points, then a padding point (no box) or the box's two corners
        if self.points:
            tokens = [PROMPT_TOKENS_START + len(self.points) - 1]
            self.attention_of = "the newest point's token"
        else:
            tokens = [PROMPT_TOKENS_START, PROMPT_TOKENS_START + 1]
            self.attention_of = "the box corners' tokens"
        weights = attention_module.attention_weights(captured["q"][:, tokens], captured["k"])
        grid = predictor.features.shape[-2:]
        # B x N_heads x N_q x N_image -> one row of N_image, heads (and corners) averaged
        self.attention = weights[0].mean(dim=(0, 1)).reshape(grid).numpy()

    def _clear_results(self) -> None:
        self.masks = self.scores = self.single_mask = self.single_score = None
        self.mask = self.score = self.chosen = self.attention = None
        self.multimask = False
        self.attention_of = ""

    # --- updating ---

    def _start_update(self) -> None:
        self._update_started = time.perf_counter()

    def update(self) -> None:
        """Runs the model for the current prompts (if any) and redraws."""
        if self._update_started is None:
            self._start_update()
        started = self._update_started
        timings = {}
        if self.points or self.box is not None:
            self._run_model()
            # SamPredictor's advice: three masks for an ambiguous prompt (one point), and the
            # single mask for an unambiguous one (several points, or a box)
            self.multimask = self.box is None and len(self.points) == 1
            if self.multimask:
                self.chosen = int(np.argmax(self.scores))
                self.mask, self.score = self.masks[self.chosen], float(self.scores[self.chosen])
            else:
                self.chosen = None
                self.mask, self.score = self.single_mask, self.single_score
        else:
            self._clear_results()
        after_model = time.perf_counter()
        timings["model"] = 1000 * (after_model - started)
        self._update_artists()
        after_artists = time.perf_counter()
        timings["artists"] = 1000 * (after_artists - after_model)
        self.timings = timings
        self._drawn_since = started
        self.figure.canvas.draw_idle()
        timings["draw"] = 1000 * (time.perf_counter() - after_artists)
        self._update_started = None

    def _on_draw(self, event) -> None:
        # the end of a render; with ipympl it follows the browser's request for the new picture
        if self._drawn_since is not None:
            self.timings["drawn"] = 1000 * (time.perf_counter() - self._drawn_since)
            self._drawn_since = None

    # --- the figure ---

    def _build_figure(self) -> None:
        fig = self.figure
        h, w = self.image.shape[:2]
        self._step = max(1, math.ceil(max(h, w) / DISPLAY_LONG_SIDE))
        s = self._step
        # a strided view keeps every s-th pixel; its extent puts each kept pixel where it is in
        # the full image, so everything drawn in full-image pixel coordinates lines up
        self._extent = (-0.5, (w + s - 1) // s * s - 0.5, (h + s - 1) // s * s - 0.5, -0.5)
        shown = self.image[::s, ::s]
        blank = np.zeros(shown.shape[:2], dtype=np.uint8)
        overlay = ListedColormap([(0, 0, 0, 0), (*MASK_COLOUR, 0.55)])

        grid = fig.add_gridspec(
            2, 3, height_ratios=(2, 1), left=0.02, right=0.98, top=0.89, bottom=0.08, hspace=0.3
        )
        top = grid[0, :].subgridspec(1, 2, wspace=0.05)
        self.ax_image = fig.add_subplot(top[0])
        self.ax_attention = fig.add_subplot(top[1])
        self.ax_masks = [fig.add_subplot(grid[1, i]) for i in range(3)]
        fig.suptitle(HELP, fontsize=9, y=0.985)
        self._status = fig.text(0.02, 0.02, "", fontsize=9, ha="left", va="bottom")

        def image_axes(ax, alpha=1.0):
            ax.imshow(shown, extent=self._extent, alpha=alpha, interpolation="nearest")
            ax.set_xlim(-0.5, w - 0.5)
            ax.set_ylim(h - 0.5, -0.5)
            ax.set_xticks([])
            ax.set_yticks([])

        image_axes(self.ax_image)
        self._mask_artist = self.ax_image.imshow(
            blank, cmap=overlay, vmin=0, vmax=1, extent=self._extent, interpolation="nearest"
        )
        self._box_artist = Rectangle((0, 0), 0, 0, fill=False, ec="#ffd700", lw=2, visible=False)
        self._band_artist = Rectangle(
            (0, 0), 0, 0, fill=False, ec="white", lw=1, ls="--", visible=False
        )
        for patch in (self._box_artist, self._band_artist):
            self.ax_image.add_patch(patch)
        self._markers = {}
        for ax in (self.ax_image, self.ax_attention):
            for label, colour, marker in ((1, POSITIVE_COLOUR, "*"), (0, NEGATIVE_COLOUR, "X")):
                self._markers[ax, label] = ax.scatter(
                    [], [], s=180, c=colour, marker=marker, edgecolors="white", linewidths=1.2
                )

        image_axes(self.ax_attention, alpha=0.45)
        # the 64 x 64 grid covers the padded 1024 x 1024 square, of which the image fills the top
        # left: grid cell j spans the 1024 frame's pixels 16j .. 16j + 16, that is the original's
        # 16j / scale .. (16j + 16) / scale in a frame where pixel i spans i .. i + 1, which is
        # imshow's frame shifted by 0.5. The axes' limits then cut the padding away.
        size = self.sam.image_encoder.img_size
        in_h, in_w = self.predictor.input_size
        grid_h, grid_w = self.predictor.features.shape[-2:]
        self._attention_artist = self.ax_attention.imshow(
            np.zeros((grid_h, grid_w)),
            cmap="inferno",
            alpha=0.7,
            extent=(-0.5, size * w / in_w - 0.5, size * h / in_h - 0.5, -0.5),
            interpolation="nearest",
            visible=False,
        )
        self.ax_attention.set_xlim(-0.5, w - 0.5)
        self.ax_attention.set_ylim(h - 0.5, -0.5)

        self._panel_artists = []
        for i, ax in enumerate(self.ax_masks):
            image_axes(ax, alpha=0.6)
            artist = ax.imshow(
                blank, cmap=overlay, vmin=0, vmax=1, extent=self._extent, interpolation="nearest"
            )
            self._panel_artists.append(artist)
            ax.set_title(f"mask {i + 1}", fontsize=9)

        self._clear_axes = fig.add_axes((0.88, 0.012, 0.1, 0.045))
        self._clear_button = Button(self._clear_axes, "clear")
        self._clear_button.on_clicked(lambda _event: self.clear())
        self._update_artists()
        canvas = fig.canvas
        if hasattr(canvas, "header_visible"):  # ipympl: no "Figure 1" header above the canvas
            canvas.header_visible = False

    def _shown(self, mask: np.ndarray) -> np.ndarray:
        return mask[:: self._step, :: self._step].astype(np.uint8)

    def _update_artists(self) -> None:
        blank = np.zeros_like(self._mask_artist.get_array())
        has_result = self.mask is not None
        self._mask_artist.set_data(self._shown(self.mask) if has_result else blank)

        points = np.array(self.points, dtype=float).reshape(-1, 2)
        labels = np.array(self.labels)
        for (ax, label), artist in self._markers.items():
            if ax is self.ax_attention:  # only the point whose token the panel shows
                shown = points[-1:] if len(points) and labels[-1] == label else points[:0]
            else:
                shown = points[labels == label] if len(points) else points
            artist.set_offsets(shown)
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            self._box_artist.set_bounds(x0, y0, x1 - x0, y1 - y0)
        self._box_artist.set_visible(self.box is not None)
        self._band_artist.set_visible(False)

        if has_result:
            how = (
                f"the best of three: mask {self.chosen + 1}"
                if self.multimask
                else "the single mask (several points, or a box)"
            )
            self.ax_image.set_title(f"{how}\npredicted IoU {self.score:.2f}", fontsize=10)
            self._attention_artist.set_data(self.attention)
            self._attention_artist.set_clim(0, float(self.attention.max()))
            self.ax_attention.set_title(
                f"what {self.attention_of} attends to\n(final token → image attention, heads"
                " averaged)",
                fontsize=10,
            )
        else:
            self.ax_image.set_title("click on the image\n", fontsize=10)
            self.ax_attention.set_title("final token → image attention\n", fontsize=10)
        self._attention_artist.set_visible(has_result)

        for i, (ax, artist) in enumerate(zip(self.ax_masks, self._panel_artists, strict=True)):
            if self.masks is None:
                artist.set_data(blank)
                ax.set_title(f"mask {i + 1}", fontsize=9)
            else:
                artist.set_data(self._shown(self.masks[i]))
                chosen = " (shown)" if self.chosen == i else ""
                ax.set_title(f"mask {i + 1}: IoU {self.scores[i]:.2f}{chosen}", fontsize=9)
            for spine in ax.spines.values():
                spine.set_edgecolor(MASK_COLOUR if self.chosen == i else "black")
                spine.set_linewidth(3 if self.chosen == i else 0.8)

        positives = sum(self.labels)
        status = (
            f"{positives} positive, {len(self.labels) - positives} negative point(s),"
            f" {'a box' if self.box is not None else 'no box'}"
        )
        if self.show_timings and has_result and self.timings:
            status += f"    last update: model {self.timings['model']:.0f} ms"
        self._status.set_text(status)

    # --- events ---

    def _toolbar_busy(self) -> bool:
        # a click while the toolbar pans or zooms belongs to the toolbar
        toolbar = getattr(self.figure.canvas, "toolbar", None)
        return bool(getattr(toolbar, "mode", ""))

    def _data_xy(self, event) -> tuple[float, float]:
        # the event's position in the image axes' data coordinates, even outside them
        x, y = self.ax_image.transData.inverted().transform((event.x, event.y))
        return float(x), float(y)

    def _on_press(self, event) -> None:
        if event.inaxes is not self.ax_image or self._toolbar_busy():
            return
        if event.button not in (MouseButton.LEFT, MouseButton.RIGHT):
            return
        self._press = ((event.x, event.y), self._data_xy(event), event.button, _shift(event))

    def _on_motion(self, event) -> None:
        if self._press is None or self._press[2] != MouseButton.LEFT:
            return
        (px, py), (x0, y0), _, _ = self._press
        if math.hypot(event.x - px, event.y - py) < DRAG_PIXELS:
            return
        x1, y1 = self._data_xy(event)
        self._band_artist.set_bounds(min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0))
        self._band_artist.set_visible(True)
        self.figure.canvas.draw_idle()

    def _on_release(self, event) -> None:
        if self._press is None:
            return
        (px, py), (x0, y0), button, shift = self._press
        self._press = None
        dragged = math.hypot(event.x - px, event.y - py) >= DRAG_PIXELS
        if dragged and button == MouseButton.LEFT:
            self.set_box((x0, y0, *self._data_xy(event)))
        elif not dragged:
            negative = button == MouseButton.RIGHT or shift
            self.add_point(x0, y0, label=0 if negative else 1)

    def _on_key(self, event) -> None:
        if event.key in CLEAR_KEYS:
            self.clear()


def _shift(event) -> bool:
    # matplotlib >= 3.8 passes the held modifiers; older backends only set `key` to "shift"
    modifiers = getattr(event, "modifiers", None) or ()
    return "shift" in modifiers or (event.key or "").split("+")[0] == "shift"


def explore(image: np.ndarray, sam: Sam | None = None) -> Explorer:
    """An interactive explorer of SAM's masks for `image` (H x W x 3 uint8 RGB).

    Run `%matplotlib widget` first (ipympl: `make lab` installs it); with a static backend the
    figure is drawn but does not answer clicks. `sam=None` loads samdec's trained model
    (`samdec.pretrained.load_pretrained()`). Returns the `Explorer`, whose attributes hold the
    prompts and masks.
    """
    import matplotlib
    import matplotlib.pyplot as plt

    if sam is None:
        from samdec.pretrained import load_pretrained

        sam = load_pretrained()
    backend = matplotlib.get_backend().lower()
    if "inline" in backend or backend in ("agg", "pdf", "ps", "svg", "cairo", "template"):
        warnings.warn(
            f"matplotlib's backend is {backend!r}, which does not answer clicks: run"
            " `%matplotlib widget` in the notebook first (ipympl)",
            stacklevel=2,
        )
    figure = plt.figure(figsize=FIGSIZE)
    return Explorer(image, sam, figure=figure)


# --- a picture for the README, and the latency per click ---


def draw_explorer_snapshot(
    sam: Sam,
    path: str | PathLike,
    image: np.ndarray | None = None,
    points: Sequence[tuple[float, float]] = ((1300, 800),),
    labels: Sequence[int] = (1,),
    box: Sequence[float] | None = None,
) -> Path:
    """Draws the explorer's figure after the given prompts (default: the running example's photo
    and its point on the dog) to `path` (.png or .svg), without timings, in the figures' style
    and metadata so that the same model draws the same bytes."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from samdec.diagrams.files import METADATA, PNG_DPI, STYLE

    if image is None:
        from samdec.world import example_scene

        image = example_scene().render().image
    path = Path(path)
    fmt = path.suffix.lstrip(".")
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=FIGSIZE)
        FigureCanvasAgg(figure)
        explorer = Explorer(image, sam, figure=figure, show_timings=False)
        for (x, y), label in zip(points, labels, strict=True):
            explorer.points.append(explorer._pixel(x, y))
            explorer.labels.append(int(label))
        if box is not None:
            explorer.set_box(box)
        else:
            explorer.update()
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, dpi=PNG_DPI, metadata=METADATA[fmt])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path


def measure_click_latency(
    image: np.ndarray | None = None, sam: Sam | None = None, clicks: int = 20, seed: int = 0
) -> dict[str, float]:
    """Median milliseconds per click, with the Agg backend (the same rendering ipympl does in
    the kernel): "model" (prompt encoder + decoder + masks + attention), "artists", "draw" (a
    full render), "total". Each click is a fresh single point at a random pixel, driven through
    the figure's mouse events. Defaults: the running example's 2250 x 1500 photo and random
    weights (the cost does not depend on them). Not meaningful while another job loads the CPU.
    """
    from matplotlib.backend_bases import MouseEvent
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if image is None:
        from samdec.world import example_scene

        image = example_scene().render().image
    if sam is None:
        from samdec.sam import build_sam

        torch.manual_seed(seed)
        sam = build_sam().eval()
    figure = Figure(figsize=FIGSIZE)
    canvas = FigureCanvasAgg(figure)
    explorer = Explorer(image, sam, figure=figure)
    canvas.draw()
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    rows = []
    for i in range(clicks + 2):  # the first two warm up
        explorer.points, explorer.labels, explorer.box = [], [], None
        x, y = explorer.ax_image.transData.transform((rng.uniform(0, w - 1), rng.uniform(0, h - 1)))
        start = time.perf_counter()
        for name in ("button_press_event", "button_release_event"):
            canvas.callbacks.process(name, MouseEvent(name, canvas, x, y, MouseButton.LEFT))
        total = 1000 * (time.perf_counter() - start)
        if i >= 2:
            rows.append({**explorer.timings, "total": total})
    return {key: float(np.median([row[key] for row in rows])) for key in rows[0]}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m samdec.explorer",
        description="The explorer's latency per click on this machine (Agg backend).",
    )
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--pretrained", action="store_true", help="the trained weights")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sam = None
    if args.pretrained:
        from samdec.pretrained import load_pretrained

        sam = load_pretrained()
    medians = measure_click_latency(sam=sam, clicks=args.clicks)
    print(f"median per click over {args.clicks} clicks, {torch.get_num_threads()} torch threads:")
    for key, value in medians.items():
        print(f"  {key:8s} {value:7.1f} ms")
    print(f"  without drawing (model + artists): {medians['model'] + medians['artists']:.1f} ms")


if __name__ == "__main__":
    main()
