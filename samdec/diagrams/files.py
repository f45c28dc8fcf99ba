"""Rendering the figures to bytes that do not change from run to run, writing them, and checking
that the committed ones are what the code draws now."""

import io
from collections.abc import Callable
from pathlib import Path

import matplotlib

from samdec.diagrams.blocks import (
    attention,
    hypernetwork_mlp,
    iou_head,
    mlp_block,
    output_upscaling,
)
from samdec.diagrams.decoder import mask_decoder
from samdec.diagrams.kit import Diagram
from samdec.diagrams.transformer import two_way_block, two_way_transformer
from samdec.trace import Call, trace_example

FIGURES: dict[str, Callable[[list[Call]], Diagram]] = {
    "attention": attention,
    "mlp_block": mlp_block,
    "two_way_block": two_way_block,
    "two_way_transformer": two_way_transformer,
    "output_upscaling": output_upscaling,
    "hypernetwork_mlp": hypernetwork_mlp,
    "iou_head": iou_head,
    "mask_decoder": mask_decoder,
}
FORMATS = ("svg", "png")
PNG_DPI = 150
CREATOR = "python -m samdec figures"

# The bundled DejaVu Sans, glyphs drawn as paths (the SVG needs no font on the reader's side), and
# a fixed salt for the SVG's element ids, which matplotlib otherwise draws at random.
STYLE = {
    "font.family": "DejaVu Sans",
    "svg.fonttype": "path",
    "svg.hashsalt": "samdec",
    "path.simplify": False,
}
METADATA = {
    "svg": {"Creator": CREATOR, "Date": None},
    "png": {"Software": CREATOR},
}


def draw(name: str, calls: list[Call]) -> Diagram:
    """The diagram `name`, drawn in the figures' style."""
    with matplotlib.rc_context(STYLE):
        return FIGURES[name](calls)


def render_figures(calls: list[Call] | None = None) -> dict[str, bytes]:
    """File name -> content for every figure in every format, from `calls` (default: the trace of
    the walk-through's example)."""
    calls = trace_example() if calls is None else calls
    files = {}
    for name in FIGURES:
        figure = draw(name, calls).figure
        for fmt in FORMATS:
            buffer = io.BytesIO()
            with matplotlib.rc_context(STYLE):
                figure.savefig(buffer, format=fmt, dpi=PNG_DPI, metadata=METADATA[fmt])
            files[f"{name}.{fmt}"] = buffer.getvalue()
    return files


def write_figures(figures_dir: Path) -> list[Path]:
    """(Re)writes every figure into `figures_dir`; returns the paths written."""
    figures_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for file_name, content in render_figures().items():
        path = figures_dir / file_name
        path.write_bytes(content)
        paths.append(path)
    return paths


def check_figures(figures_dir: Path) -> list[str]:
    """The figure files in `figures_dir` that are missing or differ from what the code draws now.
    Nothing is written."""
    return [
        file_name
        for file_name, content in render_figures().items()
        if not (figures_dir / file_name).is_file()
        or (figures_dir / file_name).read_bytes() != content
    ]
