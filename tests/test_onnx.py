"""The ONNX export: samdec's SamOnnxModel against the official one (eager, SAM's shapes), the
exported graph run by onnxruntime against samdec (a narrow model, exported once), and export paths
that cannot be written refused before the export runs."""

import importlib
import subprocess
import sys
import types

import numpy as np
import pytest
import torch
from conftest import (
    assert_matches,
    loaded_twin,
    official_sam_mask_decoder,
    official_sam_prompt_encoder,
)

import samdec
from samdec.onnx import INPUT_NAMES, OUTPUT_NAMES, SamOnnxModel, example_onnx_inputs, export_onnx

NARROW = {"transformer_dim": 64, "num_heads": 4, "mlp_dim": 128, "depth": 1}


def narrow_modules() -> tuple[samdec.PromptEncoder, samdec.MaskDecoder]:
    torch.manual_seed(0)
    prompt_encoder = samdec.build_prompt_encoder(64, (16, 16), mask_in_chans=16)
    decoder = samdec.build_mask_decoder(**NARROW)
    for module in (prompt_encoder, decoder):
        with torch.no_grad():
            for tensor in [*module.parameters(), *module.buffers()]:
                tensor.copy_(torch.randn(tensor.shape) * 0.5)
    return prompt_encoder.eval(), decoder.eval()


def onnx_inputs(prompt_encoder, num_points: int, has_mask: float, size: tuple[int, int]) -> dict:
    torch.manual_seed(num_points)
    inputs = example_onnx_inputs(prompt_encoder, num_points)
    inputs["has_mask_input"] = torch.tensor([has_mask])
    inputs["orig_im_size"] = torch.tensor(size, dtype=torch.float)
    return inputs


@pytest.mark.parametrize("return_single_mask", [False, True], ids=["all-masks", "single-mask"])
@pytest.mark.parametrize("num_points", [1, 4])
def test_samdec_onnx_model_matches_the_official_one(official, return_single_mask, num_points):
    official_onnx = importlib.import_module("segment_anything.utils.onnx")
    (official_encoder, prompt_encoder), (official_decoder, decoder) = (
        loaded_twin(official_sam_prompt_encoder(official), samdec.build_prompt_encoder()),
        loaded_twin(official_sam_mask_decoder(official), samdec.build_mask_decoder()),
    )
    sam = types.SimpleNamespace(
        prompt_encoder=official_encoder,
        mask_decoder=official_decoder,
        image_encoder=types.SimpleNamespace(img_size=1024),
    )
    reference = official_onnx.SamOnnxModel(sam, return_single_mask).eval()
    ours = SamOnnxModel(prompt_encoder, decoder, return_single_mask).eval()
    for has_mask in (0.0, 1.0):
        inputs = onnx_inputs(prompt_encoder, num_points, has_mask, (1500, 2250))
        for actual, expected in zip(ours(**inputs), reference(**inputs), strict=True):
            assert_matches(actual, expected)


def test_onnx_model_is_the_prompt_encoder_and_decoder():
    """A point and its padding point, as the predictor's prompt encoder pads them, give the
    decoder's four masks, post-processed to the original size."""
    prompt_encoder, decoder = narrow_modules()
    coords, labels = torch.tensor([[[300.0, 200.0]]]), torch.tensor([[1]])
    size = (600, 900)
    inputs = onnx_inputs(prompt_encoder, 1, 0.0, size)
    inputs["point_coords"] = torch.cat([coords, torch.zeros(1, 1, 2)], dim=1)
    inputs["point_labels"] = torch.tensor([[1.0, -1.0]])
    with torch.no_grad():
        masks, iou, low_res = SamOnnxModel(prompt_encoder, decoder)(**inputs)
        sparse, dense = prompt_encoder(points=(coords, labels), boxes=None, masks=None)
        expected_low_res, expected_iou = decoder.predict_masks(
            inputs["image_embeddings"], prompt_encoder.get_dense_pe(), sparse, dense
        )
    assert_matches(low_res, expected_low_res)
    assert_matches(iou, expected_iou)
    resized = samdec.resized_shape(size)
    assert_matches(masks, samdec.postprocess_masks(expected_low_res, resized, size))


# --- the exported graph, run by onnxruntime ----------------------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(session, prompt encoder, decoder): the narrow model exported once. Exporting takes a while
    (a minute or more on a loaded CPU)."""
    ort = pytest.importorskip(
        "onnxruntime", reason="the ONNX extra is not installed: pip install -e '.[onnx]'"
    )
    pytest.importorskip("onnxscript", reason="the ONNX extra is not installed (onnxscript)")
    prompt_encoder, decoder = narrow_modules()
    path = export_onnx(prompt_encoder, decoder, tmp_path_factory.mktemp("onnx") / "sam.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session, prompt_encoder, decoder


def test_exported_graph_has_the_official_names(exported):
    session, _, _ = exported
    assert tuple(i.name for i in session.get_inputs()) == INPUT_NAMES
    assert tuple(o.name for o in session.get_outputs()) == OUTPUT_NAMES


@pytest.mark.parametrize(
    ("num_points", "has_mask", "size"),
    [(1, 0.0, (1500, 2250)), (3, 1.0, (1500, 2250)), (6, 0.0, (480, 320))],
    ids=["one-point", "three-points-mask-prompt", "six-points-portrait"],
)
def test_onnxruntime_matches_samdec(exported, num_points, has_mask, size):
    """Within 1e-4: onnxruntime's kernels round differently from PyTorch's."""
    session, prompt_encoder, decoder = exported
    inputs = onnx_inputs(prompt_encoder, num_points, has_mask, size)
    with torch.no_grad():
        expected = SamOnnxModel(prompt_encoder, decoder)(**inputs)
    actual = session.run(None, {name: tensor.numpy() for name, tensor in inputs.items()})
    assert actual[0].shape == (1, 4, *size)
    for got, want in zip(actual, expected, strict=True):
        want = want.numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(np.abs(want).max(), 1.0))


# --- paths that cannot be written --------------------------------------------------------------


def test_export_to_a_missing_directory_is_refused_before_exporting(tmp_path):
    prompt_encoder, decoder = narrow_modules()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export_onnx(prompt_encoder, decoder, tmp_path / "missing" / "sam.onnx")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        export_onnx(prompt_encoder, decoder, tmp_path)


def test_cli_refuses_a_path_it_cannot_write(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "samdec", "export-onnx", str(tmp_path / "missing" / "sam.onnx")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
