"""The README's code is run, so that what people copy works."""

import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def test_usage_example_runs_and_gives_the_shapes_it_states():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    usage = next(block for block in blocks if "samdec.build_mask_decoder()" in block)
    namespace: dict = {}
    exec(usage, namespace)
    assert namespace["low_res_masks"].shape == torch.Size([1, 3, 256, 256])
    assert namespace["iou"].shape == torch.Size([1, 3])
    assert namespace["masks"].shape == torch.Size([1, 3, 1500, 2250])
