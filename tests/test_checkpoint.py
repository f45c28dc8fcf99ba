"""`load_sam_checkpoint` on checkpoint files written here in the official layout: the weights arrive
intact, and every kind of bad file is refused with a `CheckpointError` saying what is wrong."""

import os
import pickle
import random
import shlex
from pathlib import Path

import pytest
import torch
from conftest import (
    assert_matches,
    official_sam_mask_decoder,
    official_sam_prompt_encoder,
    randomize_,
)

import samdec
from samdec import CheckpointError, load_sam_checkpoint
from samdec.example import example_decoder_inputs, example_prompts


@pytest.fixture(scope="module")
def official_modules(official):
    """SAM's prompt encoder and mask decoder from the official code, with random weights."""
    prompt_encoder = official_sam_prompt_encoder(official)
    mask_decoder = official_sam_mask_decoder(official)
    return randomize_(prompt_encoder, seed=1).eval(), randomize_(mask_decoder, seed=2).eval()


@pytest.fixture
def sam_state_dict(official_modules) -> dict[str, torch.Tensor]:
    """What `Sam.state_dict()` holds, with a few stand-in image-encoder entries (the real ones are
    hundreds of megabytes; the loader must skip them whatever they are)."""
    prompt_encoder, mask_decoder = official_modules
    return {
        "image_encoder.pos_embed": torch.randn(1, 4, 4, 8),
        "image_encoder.patch_embed.proj.weight": torch.randn(8, 3, 2, 2),
        **{f"prompt_encoder.{k}": v for k, v in prompt_encoder.state_dict().items()},
        **{f"mask_decoder.{k}": v for k, v in mask_decoder.state_dict().items()},
        "pixel_mean": torch.tensor([123.675, 116.28, 103.53]).reshape(3, 1, 1),
        "pixel_std": torch.tensor([58.395, 57.12, 57.375]).reshape(3, 1, 1),
    }


def saved(obj: object, path: Path) -> Path:
    torch.save(obj, path)
    return path


def test_loads_the_official_weights(official_modules, sam_state_dict, tmp_path):
    path = saved(sam_state_dict, tmp_path / "sam_vit_b.pth")
    prompt_encoder, mask_decoder = load_sam_checkpoint(path)
    official_prompt_encoder, official_mask_decoder = official_modules

    assert not prompt_encoder.training and not mask_decoder.training
    coords, labels, box = example_prompts()
    with torch.no_grad():
        for actual, expected in zip(
            prompt_encoder(points=(coords, labels), boxes=box, masks=None),
            official_prompt_encoder(points=(coords, labels), boxes=box, masks=None),
            strict=True,
        ):
            assert_matches(actual, expected)
        assert_matches(prompt_encoder.get_dense_pe(), official_prompt_encoder.get_dense_pe())

        inputs = example_decoder_inputs(prompt_encoder, seed=0)
        for actual, expected in zip(
            mask_decoder(**inputs, multimask_output=True),
            official_mask_decoder(**inputs, multimask_output=True),
            strict=True,
        ):
            assert_matches(actual, expected)


def test_takes_a_str_path(official_modules, sam_state_dict, tmp_path):
    path = saved(sam_state_dict, tmp_path / "sam_vit_b.pth")
    for module, official_module in zip(
        load_sam_checkpoint(str(path)), official_modules, strict=True
    ):
        expected = official_module.state_dict()
        assert all(torch.equal(v, expected[k]) for k, v in module.state_dict().items())


class RunsCodeWhenUnpickled:
    """A pickle payload: unpickling it calls `os.system`, which creates `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {shlex.quote(str(self.marker))}",)


def test_the_code_running_payload_runs_when_unpickled_unsafely(tmp_path):
    """The payload of the next test does run code when unpickled without `weights_only`."""
    marker = tmp_path / "code-ran"
    path = saved({"payload": RunsCodeWhenUnpickled(marker)}, tmp_path / "trojan.pth")
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_refuses_a_pickle_that_runs_code(sam_state_dict, tmp_path):
    marker = tmp_path / "code-ran"
    trojan = sam_state_dict | {"mask_decoder.payload": RunsCodeWhenUnpickled(marker)}
    path = saved(trojan, tmp_path / "trojan.pth")
    with pytest.raises(CheckpointError, match="refused") as refusal:
        load_sam_checkpoint(path)
    message = str(refusal.value)
    assert str(path) in message
    assert "posix.system" in message  # what was blocked
    assert "weights_only` set to `False`" not in message  # torch's unsafe advice is not passed on
    assert isinstance(refusal.value.__cause__, pickle.UnpicklingError)
    assert not marker.exists()


def test_reports_a_missing_key(sam_state_dict, tmp_path):
    del sam_state_dict["mask_decoder.transformer.layers.1.norm3.bias"]
    path = saved(sam_state_dict, tmp_path / "missing.pth")
    with pytest.raises(
        CheckpointError, match=r"missing keys: \['mask_decoder\.transformer\.layers\.1"
    ):
        load_sam_checkpoint(path)


def test_reports_an_unexpected_key(sam_state_dict, tmp_path):
    sam_state_dict["prompt_encoder.point_embeddings.4.weight"] = torch.zeros(1, 256)
    path = saved(sam_state_dict, tmp_path / "unexpected.pth")
    with pytest.raises(
        CheckpointError, match=r"unexpected keys: \['prompt_encoder\.point_embeddings\.4\.weight'\]"
    ):
        load_sam_checkpoint(path)


def test_reports_a_wrong_shape(sam_state_dict, tmp_path):
    key = "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"
    sam_state_dict[key] = torch.zeros(2, 64)
    path = saved(sam_state_dict, tmp_path / "wrong_shape.pth")
    with pytest.raises(CheckpointError) as refusal:
        load_sam_checkpoint(path)
    assert f"{key}: (2, 64) in the file, (2, 128) expected" in str(refusal.value)


def test_reports_a_value_that_is_not_a_tensor(sam_state_dict, tmp_path):
    sam_state_dict["mask_decoder.iou_token.weight"] = 0.5
    path = saved(sam_state_dict, tmp_path / "not_a_tensor.pth")
    with pytest.raises(CheckpointError, match=r"mask_decoder\.iou_token\.weight"):
        load_sam_checkpoint(path)


JUNK = [
    pytest.param(random.Random(0).randbytes(4096), id="random bytes"),
    pytest.param(b"This is not a checkpoint.\n", id="a text file"),
    pytest.param(b"", id="an empty file"),
    pytest.param(b"\x80\x02]q\x00.", id="a pickled list without torch's header"),
    pytest.param(b"\x80\x02(.", id="a pickle popping an empty stack"),
    pytest.param(b"\x80\x02h\x05", id="a pickle reading an unset memo"),
    pytest.param(b"J\x00", id="a pickle cut inside an int"),
]


@pytest.mark.parametrize("junk", JUNK)
def test_junk_files_are_reported_with_their_path(tmp_path, junk):
    path = tmp_path / "junk.pth"
    path.write_bytes(junk)
    with pytest.raises(CheckpointError) as refusal:
        load_sam_checkpoint(path)
    assert str(path) in str(refusal.value)


def test_a_truncated_checkpoint_is_reported_with_its_path(sam_state_dict, tmp_path):
    path = saved(sam_state_dict, tmp_path / "truncated.pth")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError) as refusal:
        load_sam_checkpoint(path)
    assert str(path) in str(refusal.value)


@pytest.mark.parametrize(
    "not_a_state_dict",
    [[torch.zeros(3), torch.ones(2)], torch.zeros(3), {0: torch.zeros(3)}],
    ids=["list of tensors", "tensor", "dict with integer keys"],
)
def test_refuses_a_pickle_that_is_not_a_state_dict(tmp_path, not_a_state_dict):
    path = saved(not_a_state_dict, tmp_path / "not_a_state_dict.pth")
    with pytest.raises(CheckpointError, match="not a state dict") as refusal:
        load_sam_checkpoint(path)
    assert str(path) in str(refusal.value)


def test_a_state_dict_of_another_model_is_refused_by_name(tmp_path):
    path = saved(samdec.build_mask_decoder().state_dict(), tmp_path / "bare_decoder.pth")
    with pytest.raises(CheckpointError, match=r"missing keys: \['prompt_encoder\."):
        load_sam_checkpoint(path)
