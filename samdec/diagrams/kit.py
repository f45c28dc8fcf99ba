"""A small kit for data-flow diagrams: operation boxes coloured by kind, arrows carrying tensor
shapes, ⊕ nodes for additions, dashed frames for groups, and a legend of the kinds drawn.

Coordinates are inches from the top-left corner (y grows downwards), so that sizes relate directly
to the 9-10 pt text. Figures are at most `MAX_WIDTH` inches wide: shown at a README's 800-900 px,
a point stays a point.
"""

from dataclasses import dataclass
from itertools import combinations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Patch, Rectangle
from matplotlib.path import Path
from matplotlib.text import Text

from samdec.trace import Shape, format_shape

MAX_WIDTH = 8.6
FONT_PT = 10
SMALL_PT = 9
LINE_HEIGHT = 0.19
INK = "#222222"
LINE = "#444444"


@dataclass(frozen=True)
class Kind:
    colour: str
    label: str
    dashed: bool = False


KINDS = {
    "tensor": Kind("#e9ecef", "tensor"),
    "attention": Kind("#f5ab6b", "attention"),
    "linear": Kind("#9ccbe8", "linear / MLP"),
    "norm": Kind("#ffd97a", "norm"),
    "activation": Kind("#a8dbb4", "activation"),
    "add": Kind("#ffffff", "add / residual"),
    "pe": Kind("#d3b8e0", "positional encoding"),
    "conv": Kind("#ec9c9c", "conv / upscale"),
    "product": Kind("#f2a7c9", "dot product"),
    "reshape": Kind("#ffffff", "reshape / concat / slice", dashed=True),
}


def box_height(detail: str) -> float:
    """A box's height: a 10 pt line, one 9 pt line per line of `detail`, and a margin."""
    return 0.2 + LINE_HEIGHT * (1 + len(detail.splitlines()))


@dataclass(frozen=True)
class Box:
    """Where a drawn node sits: centre and size, with the anchor points arrows attach to."""

    x: float
    y: float
    w: float
    h: float

    @property
    def top(self) -> tuple[float, float]:
        return (self.x, self.y - self.h / 2)

    @property
    def bottom(self) -> tuple[float, float]:
        return (self.x, self.y + self.h / 2)

    @property
    def left(self) -> tuple[float, float]:
        return (self.x - self.w / 2, self.y)

    @property
    def right(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y)

    def top_at(self, dx: float) -> tuple[float, float]:
        return (self.x + dx, self.y - self.h / 2)

    def bottom_at(self, dx: float) -> tuple[float, float]:
        return (self.x + dx, self.y + self.h / 2)


class Diagram:
    """One figure. Every text drawn is remembered, so `layout_problems` can check the layout."""

    def __init__(self, width: float, height: float, title: str, subtitle: str = "") -> None:
        if width > MAX_WIDTH:
            raise ValueError(f"{width} in is wider than {MAX_WIDTH} in: text would shrink")
        self.width, self.height = width, height
        self.figure = Figure(figsize=(width, height))
        FigureCanvasAgg(self.figure)
        self.ax = self.figure.add_axes((0, 0, 1, 1))
        self.ax.set_xlim(0, width)
        self.ax.set_ylim(height, 0)
        self.ax.axis("off")
        self.kinds: list[str] = []
        self.boxed: list[tuple[Patch, list[Text]]] = []
        self.loose: list[Text] = []
        self.frames: list[Rectangle] = []
        self.loose.append(self._text(0.25, 0.3, title, size=13, weight="bold", ha="left"))
        if subtitle:
            self.loose.append(self._text(0.25, 0.5, subtitle, size=SMALL_PT, ha="left", va="top"))

    def _text(self, x: float, y: float, text: str, size: float = FONT_PT, **kwargs) -> Text:
        kwargs = {"ha": "center", "va": "center", "color": INK, "zorder": 4, **kwargs}
        return self.ax.text(x, y, text, fontsize=size, **kwargs)

    def _use(self, kind: str) -> Kind:
        if kind not in self.kinds:
            self.kinds.append(kind)
        return KINDS[kind]

    def box(
        self,
        x: float,
        y: float,
        text: str,
        kind: str,
        detail: str = "",
        w: float = 1.5,
        h: float | None = None,
    ) -> Box:
        """An operation: `text` in 10 pt bold, then the lines of `detail` in 9 pt. The height fits
        the text unless `h` is given."""
        style = self._use(kind)
        lines = detail.splitlines()
        h = h if h is not None else box_height(detail)
        patch = FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0,rounding_size=0.07",
            facecolor=style.colour,
            edgecolor=LINE,
            linewidth=1.0,
            linestyle="--" if style.dashed else "-",
            zorder=2,
        )
        self.ax.add_patch(patch)
        top = y - LINE_HEIGHT * len(lines) / 2
        texts = [self._text(x, top, text, weight="bold")]
        texts += [
            self._text(x, top + LINE_HEIGHT * (i + 1), line, size=SMALL_PT)
            for i, line in enumerate(lines)
        ]
        self.boxed.append((patch, texts))
        return Box(x, y, w, h)

    def tensor(self, x: float, y: float, name: str, shape: Shape | str, w: float = 1.7) -> Box:
        """A named input or output tensor with its shape."""
        detail = shape if isinstance(shape, str) else format_shape(shape)
        return self.box(x, y, name, "tensor", detail=detail, w=w)

    def column(
        self,
        x: float,
        y: float,
        steps: list[tuple[str, str, str]],
        labels: list[str],
        w: float = 1.5,
        gap: float = 0.5,
    ) -> list[Box]:
        """Boxes (text, kind, detail) one under the other from top y, `gap` apart, each joined to
        the next by an arrow that carries the matching entry of `labels`."""
        if len(labels) != len(steps) - 1:
            raise ValueError(f"{len(steps)} steps take {len(steps) - 1} labels, not {len(labels)}")
        boxes = []
        for text, kind, detail in steps:
            top = boxes[-1].bottom[1] + gap if boxes else y
            boxes.append(self.box(x, top + box_height(detail) / 2, text, kind, detail, w=w))
        for upper, lower, label in zip(boxes[:-1], boxes[1:], labels, strict=True):
            self.arrow(upper.bottom, lower.top, label=label)
        return boxes

    def add(self, x: float, y: float) -> Box:
        """A ⊕ node: the arrows into it are added."""
        self._use("add")
        r = 0.13
        self.ax.add_patch(Circle((x, y), r, facecolor="white", edgecolor=LINE, lw=1.2, zorder=2))
        self.ax.plot([x - r, x + r], [y, y], color=LINE, lw=1.2, zorder=3)
        self.ax.plot([x, x], [y - r, y + r], color=LINE, lw=1.2, zorder=3)
        return Box(x, y, 2 * r, 2 * r)

    def dot(self, x: float, y: float) -> None:
        """A junction: a line branches off here (lines that merely cross have none)."""
        self.ax.add_patch(Circle((x, y), 0.045, facecolor=LINE, edgecolor="none", zorder=3))

    def arrow(
        self,
        *points: tuple[float, float],
        label: str = "",
        segment: int = 0,
        at: float = 0.5,
        side: str = "right",
    ) -> None:
        """An arrow through `points` (at least two), its label beside segment `segment`, at the
        fraction `at` of its length."""
        arrow = FancyArrowPatch(
            path=Path(list(points)),
            arrowstyle="-|>",
            mutation_scale=11,
            color=LINE,
            linewidth=1.1,
            zorder=1,
        )
        self.ax.add_patch(arrow)
        if label:
            (x0, y0), (x1, y1) = points[segment], points[segment + 1]
            self.label(x0 + at * (x1 - x0), y0 + at * (y1 - y0), label, side=side)

    def label(self, x: float, y: float, text: str, side: str = "right") -> None:
        """A shape label beside the point (x, y), on a white ground that interrupts lines."""
        gap = 0.07
        placements = {
            "right": (x + gap, y, "left", "center"),
            "left": (x - gap, y, "right", "center"),
            "above": (x, y - gap, "center", "bottom"),
        }
        tx, ty, ha, va = placements[side]
        ground = {"facecolor": "white", "edgecolor": "none", "pad": 1.0}
        text = self._text(tx, ty, text, size=SMALL_PT, ha=ha, va=va, bbox=ground)
        self.loose.append(text)

    def note(self, x: float, y: float, text: str, ha: str = "left") -> None:
        """Free explanatory text (9 pt)."""
        self.loose.append(self._text(x, y, text, size=SMALL_PT, ha=ha))

    def frame(self, x0: float, y0: float, x1: float, y1: float, title: str) -> None:
        """A dashed frame around a group of nodes, its title at the top left, inside."""
        frame = Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="#888888", ls="--", lw=1.0)
        self.ax.add_patch(frame)
        self.frames.append(frame)
        self.loose.append(
            self._text(x0 + 0.1, y0 + 0.18, title, size=SMALL_PT, ha="left", color="#555555")
        )

    def legend(self, columns: int = 4, x: float = 0.25, y: float | None = None) -> None:
        """Swatches for the kinds drawn, in drawing order, `columns` to a row, from x to the right
        edge; the first row at y, or the last row at the bottom of the figure."""
        left, column_width = x, (self.width - x - 0.25) / columns
        rows = -(-len(self.kinds) // columns)
        top = y if y is not None else self.height - 0.3 * rows
        for i, kind in enumerate(self.kinds):
            x = left + (i % columns) * column_width
            row_y = top + (i // columns) * 0.3
            style = KINDS[kind]
            if kind == "add":
                self.add(x + 0.12, row_y)
            else:
                swatch = FancyBboxPatch(
                    (x, row_y - 0.09),
                    0.24,
                    0.18,
                    boxstyle="round,pad=0,rounding_size=0.04",
                    facecolor=style.colour,
                    edgecolor=LINE,
                    linestyle="--" if style.dashed else "-",
                    zorder=2,
                )
                self.ax.add_patch(swatch)
                self.boxed.append((swatch, []))
            self.loose.append(self._text(x + 0.34, row_y, style.label, size=SMALL_PT, ha="left"))


def layout_problems(diagram: Diagram) -> list[str]:
    """What a reader would trip over: text leaving its box or the figure, texts overlapping each
    other, free text lying on a box. Empty when the layout is clean."""
    renderer = diagram.figure.canvas.get_renderer()
    page = diagram.figure.bbox
    problems = []

    def extent(artist):
        # a little margin, so that touching counts as overlapping
        return artist.get_window_extent(renderer).padded(2)

    every_text = [text for _, texts in diagram.boxed for text in texts] + diagram.loose
    for text in every_text:
        bbox = extent(text)
        if not (
            page.x0 <= bbox.x0 and bbox.x1 <= page.x1 and page.y0 <= bbox.y0 <= bbox.y1 <= page.y1
        ):
            problems.append(f"{text.get_text()!r} leaves the figure")
    for patch, texts in diagram.boxed:
        frame = patch.get_window_extent(renderer)
        for text in texts:
            bbox = text.get_window_extent(renderer)
            if bbox.x0 < frame.x0 or bbox.x1 > frame.x1 or bbox.y0 < frame.y0 or bbox.y1 > frame.y1:
                problems.append(f"{text.get_text()!r} overflows its box")
    for a, b in combinations(every_text, 2):
        if extent(a).overlaps(extent(b)):
            problems.append(f"{a.get_text()!r} overlaps {b.get_text()!r}")
    for (a, a_texts), (b, b_texts) in combinations(diagram.boxed, 2):
        if extent(a).overlaps(extent(b)):
            names = [
                texts[0].get_text() if texts else "a legend swatch" for texts in (a_texts, b_texts)
            ]
            problems.append(f"boxes {names[0]!r} and {names[1]!r} overlap")
    for text in diagram.loose:
        bbox = extent(text)
        for patch, _ in diagram.boxed:
            if bbox.overlaps(patch.get_window_extent(renderer)):
                problems.append(f"{text.get_text()!r} lies on a box")
        for frame in diagram.frames:
            edge = frame.get_window_extent(renderer)
            inside = (
                edge.x0 < bbox.x0 and bbox.x1 < edge.x1 and edge.y0 < bbox.y0 and bbox.y1 < edge.y1
            )
            if bbox.overlaps(edge) and not inside:
                problems.append(f"{text.get_text()!r} crosses a frame")
    return problems
