"""The walk-through's example: its prompts are the predictor's, its photo holds the dog they point
at, its model is the trained one, its tensors have the shape table's shapes
(/work/shared/reference/README.md), and the shape printer prints or refuses as it says."""

import math

import pytest
import torch
from beartype.roar import BeartypeCallHintParamViolation

from samdec import shape_str, show_shapes
from samdec.example import (
    BOX,
    ORIGINAL_SIZE,
    POINT_COORDS,
    POINT_LABELS,
    example_decoder_inputs,
    example_image_embedding,
    example_modules,
    example_object,
    example_object_mask,
    example_photo,
    example_predictor,
    example_prompts,
    input_size,
)
from samdec.pretrained import load_pretrained
from samdec.world import example_scene

# the predictor scales the photo so that its longest side is 1024, rounding each side to a pixel
SCALE = 1024 / max(ORIGINAL_SIZE)
RESIZED_H, RESIZED_W = (math.floor(side * SCALE + 0.5) for side in ORIGINAL_SIZE)


def test_the_example_is_the_walk_throughs():
    assert POINT_COORDS == [[1300, 800]]
    assert POINT_LABELS == [1]
    assert BOX == [[700, 400, 1900, 1100]]


def test_input_size_is_the_photo_resized_to_a_long_side_of_1024():
    assert input_size() == (RESIZED_H, RESIZED_W)
    assert max(input_size()) == 1024


def test_prompts_are_moved_into_the_1024_frame():
    coords, labels, boxes = example_prompts()
    # each axis scales by its own rounded side, which is SCALE to within rounding
    x_scale, y_scale = RESIZED_W / ORIGINAL_SIZE[1], RESIZED_H / ORIGINAL_SIZE[0]
    assert x_scale == pytest.approx(SCALE, rel=1e-3)
    assert y_scale == pytest.approx(SCALE, rel=1e-3)

    expected_point = torch.tensor([[[1300 * x_scale, 800 * y_scale]]])
    expected_box = torch.tensor([[700 * x_scale, 400 * y_scale, 1900 * x_scale, 1100 * y_scale]])
    torch.testing.assert_close(coords, expected_point)
    torch.testing.assert_close(boxes, expected_box)
    assert labels.tolist() == [[1]]
    assert not labels.is_floating_point()


def test_the_point_lies_in_the_box_and_both_in_the_photo():
    (x, y), (x0, y0, x1, y1) = POINT_COORDS[0], BOX[0]
    height, width = ORIGINAL_SIZE
    assert 0 <= x0 < x < x1 <= width
    assert 0 <= y0 < y < y1 <= height


def test_the_photo_shows_a_dog_under_the_point_and_inside_the_box():
    photo = example_photo()
    assert photo.image.shape == (*ORIGINAL_SIZE, 3)
    dog = example_object_mask()
    assert dog.sum() > 0.05 * dog.size
    ys, xs = dog.nonzero()
    x0, y0, x1, y1 = BOX[0]
    assert x0 <= xs.min() and xs.max() <= x1 and y0 <= ys.min() and ys.max() <= y1
    assert example_scene().objects[example_object()].kind == "dog"


@pytest.fixture(scope="module")
def modules():
    return example_modules()


def test_example_modules_are_the_trained_ones_in_eval_mode(modules):
    trained = load_pretrained()
    for module, name in zip(modules, ["prompt_encoder", "mask_decoder"], strict=True):
        assert not module.training
        state, expected = module.state_dict(), getattr(trained, name).state_dict()
        assert all(torch.equal(state[k], expected[k]) for k in expected)
    assert example_modules()[1] is modules[1]  # one model, loaded once


def test_seeded_modules_are_random_seeded_and_in_eval_mode():
    first, again, other_seed = example_modules(0), example_modules(0), example_modules(1)
    for module, same, other in zip(first, again, other_seed, strict=True):
        assert not module.training
        state, same_state = module.state_dict(), same.state_dict()
        assert all(torch.equal(state[k], same_state[k]) for k in state)
        assert not all(torch.equal(state[k], other.state_dict()[k]) for k in state)


def test_the_image_embedding_is_the_encoders_on_the_photo():
    predictor = example_predictor()
    assert predictor.original_size == ORIGINAL_SIZE
    assert predictor.input_size == input_size()
    assert example_image_embedding() is predictor.features


def test_image_embedding_with_a_seed_is_seeded_unit_variance_noise():
    embedding = example_image_embedding(seed=0)
    assert torch.equal(embedding, example_image_embedding(seed=0))
    assert not torch.equal(embedding, example_image_embedding(seed=1))
    assert embedding.mean().item() == pytest.approx(0.0, abs=0.01)
    assert embedding.std().item() == pytest.approx(1.0, abs=0.01)


def test_decoder_inputs_have_the_shape_tables_shapes(modules):
    prompt_encoder, _ = modules
    inputs = example_decoder_inputs(prompt_encoder)
    assert {name: list(tensor.shape) for name, tensor in inputs.items()} == {
        "image_embeddings": [1, 256, 64, 64],
        "image_pe": [1, 256, 64, 64],
        "sparse_prompt_embeddings": [1, 3, 256],
        "dense_prompt_embeddings": [1, 256, 64, 64],
    }
    # no mask prompt: the dense embedding is the learned "no mask" vector at every cell
    dense = inputs["dense_prompt_embeddings"]
    no_mask = prompt_encoder.no_mask_embed.weight.reshape(1, 256, 1, 1)
    assert torch.equal(dense, no_mask.expand_as(dense))


def test_the_decoders_intermediate_tensors_have_the_shape_tables_shapes():
    prompt_encoder, decoder = example_modules(seed=0)  # its own: the hooks stay on the modules
    seen: dict[str, tuple] = {}

    def record(name: str, module: torch.nn.Module) -> None:
        def hook(module, args, output) -> None:
            seen[name] = (args, output)

        module.register_forward_hook(hook)

    block = decoder.transformer.layers[0]
    record("transformer", decoder.transformer)
    record("self-attention q", block.self_attn.q_proj)
    record("cross-attention q", block.cross_attn_token_to_image.q_proj)
    record("upscaling", decoder.output_upscaling)
    record("hypernetwork", decoder.output_hypernetworks_mlps[0])
    record("iou head", decoder.iou_prediction_head)

    with torch.no_grad():
        masks, iou = decoder(**example_decoder_inputs(prompt_encoder), multimask_output=True)

    (_, _, tokens), (_, image_tokens) = seen["transformer"]
    assert list(tokens.shape) == [1, 8, 256]
    assert list(image_tokens.shape) == [1, 4096, 256]
    self_q = block.self_attn._separate_heads(seen["self-attention q"][1])
    cross_q = block.cross_attn_token_to_image._separate_heads(seen["cross-attention q"][1])
    assert list(self_q.shape) == [1, 8, 8, 32]
    assert list(cross_q.shape) == [1, 8, 8, 16]
    assert list(seen["upscaling"][1].shape) == [1, 32, 256, 256]
    assert list(seen["hypernetwork"][1].shape) == [1, 32]
    assert list(seen["iou head"][1].shape) == [1, 4]
    assert list(masks.shape) == [1, 3, 256, 256]
    assert list(iou.shape) == [1, 3]


def test_predict_masks_returns_all_four_mask_tokens(modules):
    prompt_encoder, decoder = modules
    inputs = example_decoder_inputs(prompt_encoder)
    with torch.no_grad():
        all_masks, all_iou = decoder.predict_masks(**inputs)
        masks, iou = decoder(**inputs, multimask_output=True)
        single_mask, single_iou = decoder(**inputs, multimask_output=False)
    assert list(all_masks.shape) == [1, 4, 256, 256]
    assert list(all_iou.shape) == [1, 4]
    # mask token 0 is the single-mask output, tokens 1-3 the multimask outputs
    assert torch.equal(single_mask, all_masks[:, :1])
    assert torch.equal(masks, all_masks[:, 1:])
    assert torch.equal(single_iou, all_iou[:, :1])
    assert torch.equal(iou, all_iou[:, 1:])


# --- printing shapes ---------------------------------------------------------------------------


def test_shape_str():
    assert shape_str(torch.zeros(1, 8, 256), "B N_tokens C") == "[1, 8, 256]  B N_tokens C"
    assert shape_str(torch.tensor(1.0), "") == "[]  "


def test_shape_str_refuses_names_that_do_not_match_the_rank():
    with pytest.raises(ValueError, match=r"2 names \('B C'\) for a tensor of rank 3"):
        shape_str(torch.zeros(1, 8, 256), "B C")
    with pytest.raises(ValueError, match="rank 2"):
        shape_str(torch.zeros(4, 4), "B N C")


def test_shape_str_refuses_what_is_not_a_tensor():
    with pytest.raises(BeartypeCallHintParamViolation):
        shape_str([1, 8, 256], "B N_tokens C")


def test_show_shapes_prints_aligned_lines(capsys):
    show_shapes(
        tokens=(torch.zeros(1, 8, 256), "B N_tokens C"),
        image_embedding=(torch.zeros(1, 256, 64, 64), "B C H W"),
    )
    assert capsys.readouterr().out.splitlines() == [
        "tokens           [1, 8, 256]  B N_tokens C",
        "image_embedding  [1, 256, 64, 64]  B C H W",
    ]


def test_show_shapes_of_nothing_prints_nothing(capsys):
    show_shapes()
    assert capsys.readouterr().out == ""


def test_show_shapes_refuses_bad_names_and_bare_tensors():
    with pytest.raises(ValueError, match="rank 3"):
        show_shapes(tokens=(torch.zeros(1, 8, 256), "B C"))
    with pytest.raises(BeartypeCallHintParamViolation):
        show_shapes(tokens=torch.zeros(1, 8, 256))
