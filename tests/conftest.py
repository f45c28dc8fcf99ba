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
from PIL import Image

from samdec.contracts import check_nested_calls


def import_official_modeling() -> types.ModuleType:
    if "segment_anything" not in sys.modules:
        spec = importlib.util.find_spec("segment_anything")
        if spec is None or spec.submodule_search_locations is None:
            raise ImportError("segment-anything==1.0 is a test dependency: pip install -e '.[dev]'")
        package = types.ModuleType("segment_anything")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["segment_anything"] = package
    return importlib.import_module("segment_anything.modeling")


def official_sam_prompt_encoder(official: types.ModuleType) -> torch.nn.Module:
    """The official PromptEncoder with SAM's configuration (build_sam.py)."""
    return official.PromptEncoder(
        embed_dim=256,
        image_embedding_size=(64, 64),
        input_image_size=(1024, 1024),
        mask_in_chans=16,
    )


def official_sam_mask_decoder(
    official: types.ModuleType, transformer_dim=256, num_heads=8, mlp_dim=2048, depth=2
) -> torch.nn.Module:
    """The official MaskDecoder with SAM's configuration (build_sam.py), or narrower."""
    return official.MaskDecoder(
        num_multimask_outputs=3,
        transformer=official.TwoWayTransformer(
            depth=depth, embedding_dim=transformer_dim, mlp_dim=mlp_dim, num_heads=num_heads
        ),
        transformer_dim=transformer_dim,
        iou_head_depth=3,
        iou_head_hidden_dim=256,
    )


@pytest.fixture(scope="session", autouse=True)
def _nested_checks_on():
    """The suite checks every nested call too, so that each piece's contract is exercised on the
    real flow through the decoder, not only where a call enters samdec."""
    previous = check_nested_calls(True)
    yield
    check_nested_calls(previous)


@pytest.fixture
def nested_checks():
    """`nested_checks(enabled)` sets nested checking for one test; the suite's comes back after."""
    previous = check_nested_calls(True)
    yield check_nested_calls
    check_nested_calls(previous)


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


def assert_matches(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Equal within 1e-5 relative; the absolute slack scales with the expected values' magnitude, so
    a near-zero entry among large logits does not demand a precision float32 cannot give."""
    magnitude = expected.abs().max().item() if expected.numel() else 0.0
    atol = 1e-5 * max(magnitude, 1.0)
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=atol)


def loaded_twin(official_module: torch.nn.Module, samdec_module: torch.nn.Module, seed: int = 0):
    """(official, samdec) in eval mode, the official one randomized and its weights loaded (with
    strict key matching) into the samdec one."""
    randomize_(official_module, seed)
    samdec_module.load_state_dict(official_module.state_dict())
    return official_module.eval(), samdec_module.eval()


@pytest.fixture
def official_predictor_api(official: types.ModuleType, monkeypatch: pytest.MonkeyPatch):
    """`ResizeLongestSide` and `SamPredictor` of the official release.

    Their module imports `resize` and `to_pil_image` from torchvision (not installable here), which
    only the image path uses; a stand-in providing the two names is in `sys.modules` for the test's
    duration, and the official modules imported through it are dropped afterwards. The stand-in
    does what torchvision does for an image that is a PIL image: PIL's bilinear resize.
    """

    def resize(image: Image.Image, size: list[int]) -> Image.Image:
        height, width = size
        return image.resize((width, height), Image.Resampling.BILINEAR)

    functional = types.ModuleType("torchvision.transforms.functional")
    functional.resize = resize
    functional.to_pil_image = Image.fromarray
    for name in ("torchvision", "torchvision.transforms"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, functional.__name__, functional)

    imported_before = set(sys.modules)
    yield types.SimpleNamespace(
        ResizeLongestSide=importlib.import_module(
            "segment_anything.utils.transforms"
        ).ResizeLongestSide,
        SamPredictor=importlib.import_module("segment_anything.predictor").SamPredictor,
    )
    for name in set(sys.modules) - imported_before:
        if name.startswith("segment_anything."):
            del sys.modules[name]
