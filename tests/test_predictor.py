"""`Sam` and `SamPredictor`: the official API, the official outputs, and clear errors."""

import numpy as np
import pytest
import torch
from conftest import (
    assert_matches,
    official_sam_mask_decoder,
    official_sam_prompt_encoder,
    randomize_,
)

from samdec.predictor import SamPredictor
from samdec.sam import build_sam
from samdec.world import example_scene, generate_scene


@pytest.fixture(scope="module")
def sam():
    """samdec's Sam with random weights everywhere (seeded)."""
    model = build_sam()
    for seed, module in enumerate((model.prompt_encoder, model.mask_decoder), start=1):
        randomize_(module, seed)
    return model.eval()


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return generate_scene(4, size=(300, 450)).render().image


@pytest.fixture
def official_twin(sam, official):
    """The official `Sam` with the official prompt encoder and mask decoder carrying samdec's
    weights, and the same image encoder module."""
    prompt_encoder = official_sam_prompt_encoder(official)
    prompt_encoder.load_state_dict(sam.prompt_encoder.state_dict())
    mask_decoder = official_sam_mask_decoder(official)
    mask_decoder.load_state_dict(sam.mask_decoder.state_dict())
    return official.Sam(sam.image_encoder, prompt_encoder, mask_decoder).eval()


PROMPTS = [
    {"point_coords": np.array([[200, 150]]), "point_labels": np.array([1])},
    {"point_coords": np.array([[200, 150], [50, 40]]), "point_labels": np.array([1, 0])},
    {"box": np.array([30, 20, 330, 250])},
    {"point_coords": np.array([[200, 150]]), "point_labels": np.array([1]),
     "box": np.array([[30, 20, 330, 250]])},
]  # fmt: skip


@pytest.mark.parametrize("multimask_output", [True, False])
def test_predictor_matches_the_official_one(
    sam, official_twin, official_predictor_api, image, multimask_output
):
    ours = SamPredictor(sam)
    reference = official_predictor_api.SamPredictor(official_twin)
    ours.set_image(image)
    reference.set_image(image)
    assert_matches(ours.get_image_embedding(), reference.get_image_embedding())
    assert (ours.original_size, ours.input_size) == (
        reference.original_size,
        reference.input_size,
    )
    for prompts in PROMPTS:
        actual = ours.predict(**prompts, multimask_output=multimask_output)
        expected = reference.predict(**prompts, multimask_output=multimask_output)
        assert actual[0].dtype == bool and actual[0].shape == expected[0].shape
        # a logit within float error of the threshold may flip; no more than that
        assert (actual[0] != expected[0]).mean() < 1e-4
        assert_matches(torch.from_numpy(actual[1]), torch.from_numpy(expected[1]))
        assert_matches(torch.from_numpy(actual[2]), torch.from_numpy(expected[2]))

        # the refinement round, fed the best low-resolution logits
        mask_input = actual[2][np.argmax(actual[1])][None]
        refined = ours.predict(**prompts, mask_input=mask_input, return_logits=True)
        expected = reference.predict(**prompts, mask_input=mask_input, return_logits=True)
        for got, want in zip(refined, expected, strict=True):
            assert_matches(torch.from_numpy(got), torch.from_numpy(want))


def test_sam_forward_matches_the_official_one(sam, official_twin, image):
    predictor = SamPredictor(sam)
    predictor.set_image(image)
    resized = torch.from_numpy(np.array(predictor.input_size))  # only for its size below
    record = {
        "image": torch.rand(3, *resized.tolist()) * 255,
        "original_size": image.shape[:2],
        "point_coords": torch.tensor([[[100.0, 80.0], [300.0, 200.0]]]),
        "point_labels": torch.tensor([[1, 0]]),
        "boxes": torch.tensor([[20.0, 10.0, 400.0, 300.0]]),
        "mask_inputs": torch.randn(1, 1, 256, 256),
    }
    (actual,), (expected,) = sam([record], True), official_twin([record], True)
    for key in ("iou_predictions", "low_res_logits"):
        assert_matches(actual[key], expected[key])
    assert actual["masks"].shape == (1, 3, *image.shape[:2])
    assert_matches(
        sam.preprocess(record["image"][None]), official_twin.preprocess(record["image"][None])
    )


def test_the_walkthrough_call_runs_verbatim(sam):
    predictor = SamPredictor(sam)
    predictor.set_image(example_scene().render().image)
    masks, scores, logits = predictor.predict(
        point_coords=np.array([[1300, 800]]),
        point_labels=np.array([1]),
        box=np.array([[700, 400, 1900, 1100]]),
        multimask_output=True,
    )
    assert masks.shape == (3, 1500, 2250) and masks.dtype == bool
    assert scores.shape == (3,) and logits.shape == (3, 256, 256)
    assert predictor.get_image_embedding().shape == (1, 256, 64, 64)


def test_reset_image_forgets_the_image(sam, image):
    predictor = SamPredictor(sam)
    predictor.set_image(image)
    predictor.reset_image()
    with pytest.raises(RuntimeError, match="set_image"):
        predictor.get_image_embedding()


@pytest.mark.parametrize(
    ("bad_image", "match"),
    [
        (np.zeros((40, 60), np.uint8), "image must be H x W x 3"),
        (np.zeros((40, 60, 4), np.uint8), "image must be H x W x 3"),
        (np.zeros((40, 60, 3), np.float32), "image must be uint8"),
        ([[0, 0, 0]], "image must be a numpy array"),
    ],
)
def test_a_bad_image_is_refused_by_name(sam, bad_image, match):
    with pytest.raises((TypeError, ValueError), match=match):
        SamPredictor(sam).set_image(bad_image)


@pytest.mark.parametrize(
    ("prompts", "match"),
    [
        ({"point_coords": np.array([[1, 2]]), "point_labels": np.array([1, 1])}, "point_labels"),
        ({"point_coords": np.array([[1, 2]])}, "point_coords and point_labels"),
        ({"point_coords": np.array([1, 2]), "point_labels": np.array([1])}, "point_coords must"),
        ({"point_coords": np.array([[1, 2]]), "point_labels": np.array([2])}, "point_labels must"),
        ({"box": np.array([1, 2, 3])}, "box must be 4 numbers"),
        ({"box": np.array([0, 0, 9, 9]), "mask_input": np.zeros((256, 256))}, "mask_input must"),
    ],
)
def test_bad_prompts_are_refused_by_name(sam, image, prompts, match):
    predictor = SamPredictor(sam)
    with pytest.raises(RuntimeError, match="before mask prediction"):
        predictor.predict(**prompts)
    predictor.set_image(image)
    with pytest.raises(ValueError, match=match):
        predictor.predict(**prompts)
