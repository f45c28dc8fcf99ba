"""The README's code is run, so that what people copy works."""

import re
from pathlib import Path

import torch

from samdec.trace import format_table, trace_example

README = Path(__file__).resolve().parents[1] / "README.md"


def test_usage_example_runs_and_gives_the_shapes_it_states():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    usage = next(block for block in blocks if "samdec.build_mask_decoder()" in block)
    namespace: dict = {}
    exec(usage, namespace)
    assert namespace["low_res_masks"].shape == torch.Size([1, 3, 256, 256])
    assert namespace["iou"].shape == torch.Size([1, 3])
    assert namespace["masks"].shape == torch.Size([1, 3, 1500, 2250])


def test_trace_excerpt_is_what_the_tracer_prints():
    section = README.read_text().split("## The shape flow, computed")[1]
    excerpt = re.search(r"```text\n(.*?)```", section, flags=re.DOTALL).group(1)
    table = format_table(trace_example()).splitlines()
    lines = [line for line in excerpt.splitlines() if line != "..."]
    assert len(lines) > 10
    assert all(line in table for line in lines)
    start = table.index(lines[2])
    assert table[start : start + len(lines) - 2] == lines[2:]  # the excerpt is one unbroken run
