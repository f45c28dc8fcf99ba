"""Structure diagrams of the mask decoder, drawn with matplotlib from the trace of the
walk-through's example: every shape on them is looked up in `samdec.trace`, none is typed."""

from samdec.diagrams.files import FIGURES, check_figures, render_figures, write_figures

__all__ = ["FIGURES", "check_figures", "render_figures", "write_figures"]
