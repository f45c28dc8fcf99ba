"""Shared test fixtures, chiefly the official segment-anything 1.0 as the oracle.

The official package's `__init__` imports its predictor, which imports torchvision (not installable
here). Its modeling code does not need it, so a bare package module with the installed folder as
`__path__` is put in `sys.modules`; `segment_anything.modeling` then imports without running the
package's `__init__`.
"""

import importlib
import importlib.util
import sys
import types

import pytest
import torch


def import_official_modeling() -> types.ModuleType:
    if "segment_anything" not in sys.modules:
        spec = importlib.util.find_spec("segment_anything")
        if spec is None or spec.submodule_search_locations is None:
            raise ImportError("segment-anything==1.0 is a test dependency: pip install -e '.[dev]'")
        package = types.ModuleType("segment_anything")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["segment_anything"] = package
    return importlib.import_module("segment_anything.modeling")


@pytest.fixture(scope="session")
def official() -> types.ModuleType:
    """`segment_anything.modeling` of the official release."""
    return import_official_modeling()


def randomize_(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every parameter and buffer drawn at random, so that LayerNorm's ones and zeros (and any
    other default that makes two different computations agree) cannot hide a bug."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.5)
    return module
