"""The figures: the committed files are byte for byte what the code draws now (which also shows
that rendering repeats exactly: they were written by another process), the check can tell when they
are not, the labels come from the trace, and the layouts are clean."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from matplotlib.text import Text

from samdec.diagrams import FIGURES, check_figures
from samdec.diagrams.files import draw
from samdec.diagrams.kit import MAX_WIDTH, SMALL_PT, layout_problems
from samdec.example import example_modules
from samdec.trace import trace_example, tracing

FIGURES_DIR = Path(__file__).resolve().parent.parent / "figures"


@pytest.fixture(scope="module")
def calls():
    return trace_example()


def test_committed_figures_are_what_the_code_draws():
    result = subprocess.run(
        [sys.executable, "-m", "samdec", "figures", "--check", "--dir", str(FIGURES_DIR)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_check_reports_a_changed_byte_and_a_missing_file(tmp_path):
    for path in FIGURES_DIR.iterdir():
        shutil.copy(path, tmp_path)
    changed = tmp_path / "attention.svg"
    content = bytearray(changed.read_bytes())
    content[-10] ^= 1
    changed.write_bytes(bytes(content))
    (tmp_path / "iou_head.png").unlink()
    assert check_figures(tmp_path) == ["attention.svg", "iou_head.png"]


def texts(diagram) -> list[Text]:
    return diagram.figure.findobj(Text)


@pytest.mark.parametrize("name", FIGURES)
def test_layout_is_clean_and_legible(name, calls):
    diagram = draw(name, calls)
    assert layout_problems(diagram) == []
    width, _ = diagram.figure.get_size_inches()
    assert width <= MAX_WIDTH
    assert min(text.get_fontsize() for text in texts(diagram)) >= SMALL_PT


def test_shapes_are_looked_up_in_the_trace():
    """A decoder run on a 32 x 32 embedding (1024 image tokens) draws 1024, never 4096."""
    _, decoder = example_modules(seed=0)
    generator = torch.Generator().manual_seed(0)
    inputs = {
        "image_embeddings": torch.randn(1, 256, 32, 32, generator=generator),
        "image_pe": torch.randn(1, 256, 32, 32, generator=generator),
        "sparse_prompt_embeddings": torch.randn(1, 3, 256, generator=generator),
        "dense_prompt_embeddings": torch.randn(1, 256, 32, 32, generator=generator),
    }
    with torch.no_grad(), tracing(decoder) as recorded:
        decoder(**inputs, multimask_output=True)
    for name in FIGURES:
        drawn = "\n".join(text.get_text() for text in texts(draw(name, recorded())))
        assert "4096" not in drawn and "[1, 256, 64, 64]" not in drawn, name
        assert "1024" in drawn or name in ("mlp_block", "hypernetwork_mlp", "iou_head"), name
