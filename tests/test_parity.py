"""samdec against the official segment-anything 1.0: same weights (random, loaded from the official
module), same inputs, same outputs; block by block, then the whole decoder, then the official
predictor driving samdec's modules."""

import numpy as np
import pytest
import torch
from conftest import (
    assert_matches,
    loaded_twin,
    official_sam_mask_decoder,
    official_sam_prompt_encoder,
)
from torch import nn

import samdec
from samdec.example import (
    BOX,
    ORIGINAL_SIZE,
    POINT_COORDS,
    POINT_LABELS,
    example_prompts,
    input_size,
)

SAM_WIDTHS = {"transformer_dim": 256, "num_heads": 8, "mlp_dim": 2048, "depth": 2}
NARROW = {"transformer_dim": 64, "num_heads": 4, "mlp_dim": 128}


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def decoder_twin(official, widths: dict, seed: int = 0):
    return loaded_twin(
        official_sam_mask_decoder(official, **widths), samdec.build_mask_decoder(**widths), seed
    )


def decoder_inputs(width: int, grid: tuple[int, int], batch: int, n_sparse: int) -> dict:
    return {
        "image_embeddings": randn(1, width, *grid, seed=1),
        "image_pe": randn(1, width, *grid, seed=2),
        "sparse_prompt_embeddings": randn(batch, n_sparse, width, seed=3),
        "dense_prompt_embeddings": randn(batch, width, *grid, seed=4),
    }


# --- building blocks ---------------------------------------------------------------------------


@pytest.mark.parametrize("fused", [True, False], ids=["sdpa", "explicit"])
@pytest.mark.parametrize("downsample_rate", [1, 2])
def test_attention(official, downsample_rate, fused):
    reference, ours = loaded_twin(
        official.transformer.Attention(64, 4, downsample_rate),
        samdec.Attention(64, 4, downsample_rate, fused=fused),
    )
    q, k, v = randn(2, 5, 64, seed=1), randn(2, 7, 64, seed=2), randn(2, 7, 64, seed=3)
    assert_matches(ours(q, k, v), reference(q, k, v))
    assert_matches(ours(q=q, k=k, v=v), reference(q=q, k=k, v=v))


@pytest.mark.parametrize("activation", [nn.GELU, nn.ReLU])
@pytest.mark.parametrize("batch_shape", [(3,), (2, 5)], ids=["tokens", "batched-tokens"])
def test_mlp_block(official, activation, batch_shape):
    reference, ours = loaded_twin(
        official.common.MLPBlock(64, 128, activation), samdec.MLPBlock(64, 128, activation)
    )
    x = randn(*batch_shape, 64)
    assert_matches(ours(x), reference(x))


@pytest.mark.parametrize("skip_first_layer_pe", [True, False])
def test_two_way_attention_block(official, skip_first_layer_pe):
    config = {"num_heads": 4, "mlp_dim": 128, "skip_first_layer_pe": skip_first_layer_pe}
    reference, ours = loaded_twin(
        official.transformer.TwoWayAttentionBlock(64, **config),
        samdec.TwoWayAttentionBlock(64, **config),
    )
    inputs = {
        "queries": randn(2, 5, 64, seed=1),
        "keys": randn(2, 30, 64, seed=2),
        "query_pe": randn(2, 5, 64, seed=3),
        "key_pe": randn(2, 30, 64, seed=4),
    }
    for actual, expected in zip(ours(**inputs), reference(**inputs), strict=True):
        assert_matches(actual, expected)


@pytest.mark.parametrize("depth", [1, 2])
def test_two_way_transformer(official, depth):
    config = {"depth": depth, "embedding_dim": 64, "num_heads": 4, "mlp_dim": 128}
    reference, ours = loaded_twin(
        official.TwoWayTransformer(**config), samdec.TwoWayTransformer(**config)
    )
    inputs = (randn(2, 64, 5, 6, seed=1), randn(2, 64, 5, 6, seed=2), randn(2, 7, 64, seed=3))
    for actual, expected in zip(ours(*inputs), reference(*inputs), strict=True):
        assert_matches(actual, expected)


def test_layer_norm_2d(official):
    reference, ours = loaded_twin(official.common.LayerNorm2d(16), samdec.LayerNorm2d(16))
    x = randn(2, 16, 5, 6) * 3 + 1
    assert_matches(ours(x), reference(x))


@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("sigmoid_output", [False, True])
def test_mlp(official, num_layers, sigmoid_output):
    reference, ours = loaded_twin(
        official.mask_decoder.MLP(64, 32, 8, num_layers, sigmoid_output),
        samdec.MLP(64, 32, 8, num_layers, sigmoid_output),
    )
    x = randn(3, 64)
    assert_matches(ours(x), reference(x))


def test_output_upscaling(official):
    """samdec's `OutputUpscaling` against the official decoder's `output_upscaling` Sequential."""
    reference, ours = loaded_twin(
        official_sam_mask_decoder(official, **NARROW, depth=1).output_upscaling,
        samdec.OutputUpscaling(64),
    )
    x = randn(2, 64, 5, 6)
    assert ours(x).shape == (2, 8, 20, 24)
    assert_matches(ours(x), reference(x))


def test_dot_product_masks():
    """Mask i at a pixel is the dot product of hypernetwork weights i with the pixel's features."""
    hyper_in, upscaled = randn(2, 4, 8, seed=1), randn(2, 8, 5, 6, seed=2)
    expected = torch.einsum("bmc,bchw->bmhw", hyper_in, upscaled)
    assert_matches(samdec.dot_product_masks(hyper_in, upscaled), expected)


# --- the mask decoder --------------------------------------------------------------------------

DECODER_CASES = [
    pytest.param(SAM_WIDTHS, (64, 64), 1, 3, id="example-shapes"),
    pytest.param(SAM_WIDTHS, (32, 32), 3, 3, id="three-prompt-sets"),
    pytest.param({**NARROW, "depth": 1}, (48, 64), 2, 3, id="non-square-48x64"),
    pytest.param({**NARROW, "depth": 1}, (16, 16), 2, 5, id="narrow-depth-1"),
    pytest.param({**NARROW, "depth": 3}, (16, 16), 2, 5, id="narrow-depth-3"),
    pytest.param({**NARROW, "depth": 2}, (16, 16), 1, 0, id="no-sparse-prompts"),
]


@pytest.mark.parametrize("multimask_output", [True, False], ids=["multimask", "single-mask"])
@pytest.mark.parametrize(("widths", "grid", "batch", "n_sparse"), DECODER_CASES)
def test_mask_decoder(official, widths, grid, batch, n_sparse, multimask_output):
    reference, ours = decoder_twin(official, widths)
    ours.prompt_sets_per_pass = batch  # one pass over the batch, as the official decodes it
    inputs = decoder_inputs(widths["transformer_dim"], grid, batch, n_sparse)
    with torch.no_grad():
        masks, iou = ours(**inputs, multimask_output=multimask_output)
        expected_masks, expected_iou = reference(**inputs, multimask_output=multimask_output)

    n_masks = 3 if multimask_output else 1
    assert masks.shape == (batch, n_masks, 4 * grid[0], 4 * grid[1])
    assert iou.shape == (batch, n_masks)
    assert_matches(masks, expected_masks)
    assert_matches(iou, expected_iou)


def test_mask_decoder_one_prompt_set_per_pass(official):
    """samdec's default: the batch decoded one prompt set at a time. Compared with the official
    decoder called once per prompt set: batched, the official's own outputs differ from these by
    more than 1e-5 of the randomized weights' huge logits (float32 rounding in the batched
    matmuls), so that comparison would test rounding, not the computation."""
    reference, ours = decoder_twin(official, SAM_WIDTHS)
    assert ours.prompt_sets_per_pass == 1
    inputs = decoder_inputs(256, (32, 32), 3, 3)
    with torch.no_grad():
        masks, iou = ours(**inputs, multimask_output=True)
        one_at_a_time = [
            reference(
                image_embeddings=inputs["image_embeddings"],
                image_pe=inputs["image_pe"],
                sparse_prompt_embeddings=inputs["sparse_prompt_embeddings"][i : i + 1],
                dense_prompt_embeddings=inputs["dense_prompt_embeddings"][i : i + 1],
                multimask_output=True,
            )
            for i in range(3)
        ]
    assert_matches(masks, torch.cat([m for m, _ in one_at_a_time]))
    assert_matches(iou, torch.cat([i for _, i in one_at_a_time]))


@pytest.mark.parametrize(("widths", "grid", "batch", "n_sparse"), DECODER_CASES[2:5])
def test_predict_masks(official, widths, grid, batch, n_sparse):
    reference, ours = decoder_twin(official, widths)
    inputs = decoder_inputs(widths["transformer_dim"], grid, batch, n_sparse)
    with torch.no_grad():
        masks, iou = ours.predict_masks(**inputs)
        expected_masks, expected_iou = reference.predict_masks(**inputs)
    assert masks.shape == (batch, 4, 4 * grid[0], 4 * grid[1])
    assert_matches(masks, expected_masks)
    assert_matches(iou, expected_iou)


# --- the prompt encoder ------------------------------------------------------------------------

SMALL_PROMPT_ENCODER = {
    "embed_dim": 32,
    "image_embedding_size": (12, 16),
    "input_image_size": (192, 256),
    "mask_in_chans": 8,
}


@pytest.fixture(scope="module")
def prompt_encoders(official):
    return loaded_twin(
        official.PromptEncoder(**SMALL_PROMPT_ENCODER), samdec.PromptEncoder(**SMALL_PROMPT_ENCODER)
    )


def points(batch: int, labels: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Random (x, y) inside the small encoder's 256 x 192 input, and the given labels."""
    coords = torch.rand((batch, len(labels), 2), generator=torch.Generator().manual_seed(5))
    coords = coords * torch.tensor([256.0, 192.0])
    return coords, torch.tensor([labels] * batch, dtype=torch.int)


def boxes(batch: int) -> torch.Tensor:
    corners = torch.rand((batch, 2, 2), generator=torch.Generator().manual_seed(6)).sort(dim=1)
    return (corners.values * torch.tensor([256.0, 192.0])).reshape(batch, 4)


PROMPTS = {
    "points-only": (lambda: (points(2, [1, 0, 1]), None, None), 3 + 1),
    "negative-and-padding-labels": (lambda: (points(3, [0, -1, 1, 0]), None, None), 4 + 1),
    "box-only": (lambda: (None, boxes(2), None), 2),
    "box-only-B-1-4": (lambda: (None, boxes(2).unsqueeze(1), None), 2),
    "points-and-box": (lambda: (points(2, [1, 0]), boxes(2), None), 2 + 2),
    "mask-only": (lambda: (None, None, randn(2, 1, 48, 64, seed=7)), 0),
    "everything": (lambda: (points(2, [1]), boxes(2), randn(2, 1, 48, 64, seed=7)), 1 + 2),
    "nothing": (lambda: (None, None, None), 0),
}


@pytest.mark.parametrize("case", PROMPTS)
def test_prompt_encoder(prompt_encoders, case):
    reference, ours = prompt_encoders
    make_prompts, n_sparse = PROMPTS[case]
    prompts = make_prompts()
    with torch.no_grad():
        sparse, dense = ours(*prompts)
        expected_sparse, expected_dense = reference(*prompts)
    assert sparse.shape[1:] == (n_sparse, 32)
    assert dense.shape[1:] == (32, 12, 16)
    assert_matches(sparse, expected_sparse)
    assert_matches(dense, expected_dense)


def test_get_dense_pe(prompt_encoders):
    reference, ours = prompt_encoders
    assert ours.get_dense_pe().shape == (1, 32, 12, 16)
    assert_matches(ours.get_dense_pe(), reference.get_dense_pe())


def test_sam_prompt_encoder_on_the_example_prompts(official):
    reference, ours = loaded_twin(
        official_sam_prompt_encoder(official), samdec.build_prompt_encoder()
    )
    coords, labels, box = example_prompts()
    with torch.no_grad():
        for actual, expected in zip(
            ours(points=(coords, labels), boxes=box, masks=None),
            reference(points=(coords, labels), boxes=box, masks=None),
            strict=True,
        ):
            assert_matches(actual, expected)
        assert_matches(ours.get_dense_pe(), reference.get_dense_pe())


@pytest.fixture(scope="module")
def position_embeddings(official):
    return loaded_twin(
        official.prompt_encoder.PositionEmbeddingRandom(16), samdec.PositionEmbeddingRandom(16)
    )


@pytest.mark.parametrize("size", [(12, 16), (7, 7)])
def test_position_embedding_grid(position_embeddings, size):
    reference, ours = position_embeddings
    assert ours(size).shape == (32, *size)
    assert_matches(ours(size), reference(size))


def test_position_embedding_with_coords(position_embeddings):
    reference, ours = position_embeddings
    coords = points(2, [1, 1, 1, 1, 1])[0]
    assert_matches(
        ours.forward_with_coords(coords, (192, 256)),
        reference.forward_with_coords(coords, (192, 256)),
    )


# --- SAM's configuration -----------------------------------------------------------------------


def shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(tensor.shape) for name, tensor in module.state_dict().items()}


def test_state_dict_layout_is_sams(official):
    assert shapes(samdec.build_mask_decoder()) == shapes(official_sam_mask_decoder(official))
    assert shapes(samdec.build_prompt_encoder()) == shapes(official_sam_prompt_encoder(official))


def parameter_count(module: nn.Module, prefix: str = "") -> int:
    return sum(p.numel() for name, p in module.named_parameters() if name.startswith(prefix))


def test_mask_decoder_parameter_counts():
    decoder = samdec.build_mask_decoder()
    parts = {
        "transformer.": 3_291_264,
        "output_hypernetworks_mlps.": 559_232,
        "iou_prediction_head.": 132_612,
        "output_upscaling.": 73_952,
        "iou_token.": 256,
        "mask_tokens.": 1_024,
    }
    assert {prefix: parameter_count(decoder, prefix) for prefix in parts} == parts
    assert parameter_count(decoder) == 4_058_340 == sum(parts.values())


def test_prompt_encoder_parameter_count_and_buffer():
    encoder = samdec.build_prompt_encoder()
    assert parameter_count(encoder) == 6_220
    assert {name: tuple(b.shape) for name, b in encoder.named_buffers()} == {
        "pe_layer.positional_encoding_gaussian_matrix": (2, 128)
    }


# --- the official call sites -------------------------------------------------------------------


def test_decoder_accepts_positional_and_keyword_arguments(official):
    _, ours = decoder_twin(official, {**NARROW, "depth": 1})
    inputs = decoder_inputs(64, (8, 8), 2, 3)
    with torch.no_grad():
        by_keyword = ours(**inputs, multimask_output=True)
        by_position = ours(*inputs.values(), True)
    for actual, expected in zip(by_position, by_keyword, strict=True):
        torch.testing.assert_close(actual, expected, rtol=0, atol=0)


class FixedImageEncoder(nn.Module):
    """Stands in for SAM's ViT: the attributes `Sam` reads, and a seeded embedding for any image."""

    img_size = 1024

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("embedding", randn(1, 256, 64, 64, seed=8))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        assert images.shape[-2:] == (self.img_size, self.img_size)
        return self.embedding.expand(images.shape[0], -1, -1, -1)


@pytest.fixture(scope="module")
def sams(official):
    """Two official `Sam`s sharing an image encoder: one with the official prompt encoder and mask
    decoder, one with samdec's carrying the same random weights."""
    official_prompt_encoder, prompt_encoder = loaded_twin(
        official_sam_prompt_encoder(official), samdec.build_prompt_encoder(), seed=1
    )
    official_decoder, decoder = decoder_twin(official, SAM_WIDTHS, seed=2)
    image_encoder = FixedImageEncoder()
    return (
        official.Sam(image_encoder, official_prompt_encoder, official_decoder).eval(),
        official.Sam(image_encoder, prompt_encoder, decoder).eval(),
    )


def test_sam_forward_drives_samdec_modules(sams, monkeypatch):
    batched_input = [
        {
            "image": torch.zeros(3, *input_size()),
            "original_size": ORIGINAL_SIZE,
            "point_coords": samdec.transform_coords(randn(2, 3, 2).abs() * 300, ORIGINAL_SIZE),
            "point_labels": torch.tensor([[1, 0, 1], [1, 1, 0]]),
            "boxes": samdec.transform_boxes(torch.tensor(BOX * 2), ORIGINAL_SIZE),
        }
    ]
    reference, ours = sams
    # one pass over the batch, as the official decodes it (float32 rounding follows the pass)
    monkeypatch.setattr(ours.mask_decoder, "prompt_sets_per_pass", 2)
    (expected,) = reference(batched_input, multimask_output=True)
    (actual,) = ours(batched_input, multimask_output=True)
    assert actual["masks"].shape == (2, 3, *ORIGINAL_SIZE)
    assert_matches(actual["low_res_logits"], expected["low_res_logits"])
    assert_matches(actual["iou_predictions"], expected["iou_predictions"])


def test_sam_predictor_drives_samdec_modules(sams, official_predictor_api):
    """The walk-through's `predictor.predict` call, then a second round fed the first round's best
    low-resolution mask as a mask prompt, as the official notebooks do."""
    predictors = [official_predictor_api.SamPredictor(sam) for sam in sams]
    for predictor in predictors:
        predictor.set_torch_image(torch.zeros(1, 3, *input_size()), ORIGINAL_SIZE)

    prompts = {
        "point_coords": np.array(POINT_COORDS),
        "point_labels": np.array(POINT_LABELS),
        "box": np.array(BOX),
        "return_logits": True,
    }
    expected, actual = (p.predict(**prompts, multimask_output=True) for p in predictors)
    assert actual[0].shape == (3, *ORIGINAL_SIZE)
    for got, want in zip(actual, expected, strict=True):
        assert_matches(torch.from_numpy(got), torch.from_numpy(want))

    mask_input = expected[2][np.argmax(expected[1])][None]
    expected, actual = (
        p.predict(**prompts, mask_input=mask_input, multimask_output=False) for p in predictors
    )
    assert actual[0].shape == (1, *ORIGINAL_SIZE)
    for got, want in zip(actual, expected, strict=True):
        assert_matches(torch.from_numpy(got), torch.from_numpy(want))
