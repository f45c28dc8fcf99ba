"""The shape contracts: a bad input is refused by jaxtyping at the entry of the module it is given
to, with the offending parameter named, before any torch operation runs."""

import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
from collections.abc import Callable

import jaxtyping
import pytest
import torch
from jaxtyping import Float, TypeCheckError
from torch import Tensor, nn

import samdec
from samdec.contracts import shape_checked

C, H, W = 32, 8, 8
BATCH, N_SPARSE = 2, 3


def randn(*shape: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(0))


def assert_refused_at_entry(
    module: nn.Module, call: Callable[[], object], parameter: str, method: str = "forward"
) -> None:
    """`call` raises jaxtyping's TypeCheckError naming `parameter`, raised while checking the
    parameters of `module.<method>`, with none of the module's submodules having run."""
    submodules_run = []
    hooks = [
        submodule.register_forward_pre_hook(lambda m, args: submodules_run.append(m))
        for submodule in module.modules()
        if submodule is not module
    ]
    try:
        with pytest.raises(TypeCheckError) as refusal:
            call()
    finally:
        for hook in hooks:
            hook.remove()
    message = str(refusal.value)
    cls = type(module)
    assert f"checking the parameters of {cls.__module__}.{cls.__qualname__}.{method}." in message
    assert f"parameter '{parameter}'" in message
    assert submodules_run == []


# --- the mask decoder --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def decoder():
    return samdec.build_mask_decoder(transformer_dim=C, num_heads=4, mlp_dim=64, depth=1).eval()


def decoder_inputs(**replaced: object) -> dict[str, object]:
    inputs = {
        "image_embeddings": randn(1, C, H, W),
        "image_pe": randn(1, C, H, W),
        "sparse_prompt_embeddings": randn(BATCH, N_SPARSE, C),
        "dense_prompt_embeddings": randn(BATCH, C, H, W),
    }
    return inputs | replaced


BAD_DECODER_INPUTS = {
    "channels-last image embedding": ("image_embeddings", randn(1, H, W, C)),
    "image embedding repeated per prompt set": ("image_embeddings", randn(BATCH, C, H, W)),
    "integer image embedding": ("image_embeddings", torch.ones(1, C, H, W, dtype=torch.int)),
    "image embedding of another width": ("image_embeddings", randn(1, C // 2, H, W)),
    "image_pe on another grid": ("image_pe", randn(1, C, H, W - 2)),
    "image_pe with a batch per prompt set": ("image_pe", randn(BATCH, C, H, W)),
    "sparse prompts without a batch axis": ("sparse_prompt_embeddings", randn(N_SPARSE, C)),
    "sparse prompts of another width": ("sparse_prompt_embeddings", randn(BATCH, N_SPARSE, C + 1)),
    "dense prompts of another batch": ("dense_prompt_embeddings", randn(BATCH + 1, C, H, W)),
    "dense prompts without their batch": ("dense_prompt_embeddings", randn(1, C, H, W)),
    "dense prompts on another grid": ("dense_prompt_embeddings", randn(BATCH, C, H, W + 1)),
}


@pytest.mark.parametrize("case", BAD_DECODER_INPUTS)
@pytest.mark.parametrize("method", ["forward", "predict_masks"])
def test_mask_decoder_refuses(decoder, case, method):
    parameter, bad_value = BAD_DECODER_INPUTS[case]
    inputs = decoder_inputs(**{parameter: bad_value})
    calls = {
        "forward": lambda: decoder(**inputs, multimask_output=True),
        "predict_masks": lambda: decoder.predict_masks(**inputs),
    }
    assert_refused_at_entry(decoder, calls[method], parameter, method)


@pytest.mark.parametrize("flag", ["yes", 1, None])
def test_mask_decoder_refuses_a_non_bool_multimask_flag(decoder, flag):
    assert_refused_at_entry(
        decoder, lambda: decoder(**decoder_inputs(), multimask_output=flag), "multimask_output"
    )


def test_mask_decoder_accepts_the_good_inputs(decoder):
    """The refusals above come from the one input replaced, not from the fixture's inputs."""
    masks, iou = decoder(**decoder_inputs(), multimask_output=True)
    assert masks.shape == (BATCH, 3, 4 * H, 4 * W)
    assert iou.shape == (BATCH, 3)


# --- the prompt encoder ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prompt_encoder():
    return samdec.PromptEncoder(
        embed_dim=C, image_embedding_size=(H, W), input_image_size=(16 * H, 16 * W), mask_in_chans=8
    ).eval()


def coords(*shape: int) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(0)) * 16 * H


def labels(*shape: int) -> torch.Tensor:
    return torch.ones(shape, dtype=torch.int)


GOOD_PROMPTS = {
    "points": (coords(BATCH, 3, 2), labels(BATCH, 3)),
    "boxes": coords(BATCH, 4),
    "masks": randn(BATCH, 1, 4 * H, 4 * W),
}

BAD_PROMPTS = {
    "fewer labels than points": ("points", (coords(BATCH, 3, 2), labels(BATCH, 2))),
    "labels of another batch": ("points", (coords(BATCH, 3, 2), labels(1, 3))),
    "points without a batch axis": ("points", (coords(3, 2), labels(3))),
    "points in 3-D": ("points", (coords(BATCH, 3, 3), labels(BATCH, 3))),
    "points without labels": ("points", coords(BATCH, 3, 2)),
    "box as corner pairs": ("boxes", coords(BATCH, 2, 2)),
    "box with five numbers": ("boxes", coords(BATCH, 5)),
    "boxes of another batch": ("boxes", coords(BATCH + 1, 4)),
    "mask prompt at the embedding's resolution": ("masks", randn(BATCH, 1, H, W)),
    "mask prompt at twice the resolution": ("masks", randn(BATCH, 1, 8 * H, 8 * W)),
    "mask prompt without its channel axis": ("masks", randn(BATCH, 4 * H, 4 * W)),
    "mask prompt of another batch": ("masks", randn(BATCH + 1, 1, 4 * H, 4 * W)),
}


@pytest.mark.parametrize("case", BAD_PROMPTS)
def test_prompt_encoder_refuses(prompt_encoder, case):
    parameter, bad_value = BAD_PROMPTS[case]
    prompts = GOOD_PROMPTS | {parameter: bad_value}
    assert_refused_at_entry(prompt_encoder, lambda: prompt_encoder(**prompts), parameter)


def test_prompt_encoder_accepts_the_good_prompts(prompt_encoder):
    sparse, dense = prompt_encoder(**GOOD_PROMPTS)
    assert sparse.shape == (BATCH, 3 + 2, C)
    assert dense.shape == (BATCH, C, H, W)


def test_position_embedding_refuses_unbatched_coords():
    pe_layer = samdec.PositionEmbeddingRandom(C // 2)
    with pytest.raises(TypeCheckError, match="parameter 'coords_input'"):
        pe_layer.forward_with_coords(coords(3, 2), (128, 128))
    with pytest.raises(TypeCheckError, match="parameter 'size'"):
        pe_layer((H,))


# --- building blocks ---------------------------------------------------------------------------

BAD_BLOCK_INPUTS = {
    "attention: keys of another width": (
        lambda: samdec.Attention(C, 4),
        "k",
        {"q": randn(2, 5, C), "k": randn(2, 7, C // 2), "v": randn(2, 7, C)},
    ),
    "attention: values of another length than keys": (
        lambda: samdec.Attention(C, 4, downsample_rate=2),
        "v",
        {"q": randn(2, 5, C), "k": randn(2, 7, C), "v": randn(2, 6, C)},
    ),
    "attention: keys of another batch": (
        lambda: samdec.Attention(C, 4),
        "k",
        {"q": randn(2, 5, C), "k": randn(1, 7, C), "v": randn(1, 7, C)},
    ),
    "two-way block: query_pe not matching the queries": (
        lambda: samdec.TwoWayAttentionBlock(C, 4, mlp_dim=64),
        "query_pe",
        {
            "queries": randn(2, 5, C),
            "keys": randn(2, 30, C),
            "query_pe": randn(2, 6, C),
            "key_pe": randn(2, 30, C),
        },
    ),
    "two-way block: key_pe not matching the keys": (
        lambda: samdec.TwoWayAttentionBlock(C, 4, mlp_dim=64),
        "key_pe",
        {
            "queries": randn(2, 5, C),
            "keys": randn(2, 30, C),
            "query_pe": randn(2, 5, C),
            "key_pe": randn(2, 29, C),
        },
    ),
    "two-way transformer: image_pe on another grid": (
        lambda: samdec.TwoWayTransformer(depth=1, embedding_dim=C, num_heads=4, mlp_dim=64),
        "image_pe",
        {
            "image_embedding": randn(2, C, H, W),
            "image_pe": randn(2, C, H, W + 1),
            "point_embedding": randn(2, 5, C),
        },
    ),
    "two-way transformer: tokens of another batch": (
        lambda: samdec.TwoWayTransformer(depth=1, embedding_dim=C, num_heads=4, mlp_dim=64),
        "point_embedding",
        {
            "image_embedding": randn(2, C, H, W),
            "image_pe": randn(2, C, H, W),
            "point_embedding": randn(1, 5, C),
        },
    ),
    "layer norm 2d: a 3-D input": (lambda: samdec.LayerNorm2d(C), "x", {"x": randn(2, C, H)}),
    "layer norm 2d: integers": (
        lambda: samdec.LayerNorm2d(C),
        "x",
        {"x": torch.ones(2, C, H, W, dtype=torch.int)},
    ),
    "MLP block: integers": (
        lambda: samdec.MLPBlock(C, 64),
        "x",
        {"x": torch.ones(2, C, dtype=torch.int)},
    ),
    "MLP: a scalar": (lambda: samdec.MLP(C, 64, 8, 3), "x", {"x": torch.tensor(1.0)}),
    "output upscaling: image tokens instead of a grid": (
        lambda: samdec.OutputUpscaling(C),
        "x",
        {"x": randn(2, H * W, C)},
    ),
}


@pytest.mark.parametrize("case", BAD_BLOCK_INPUTS)
def test_building_block_refuses(case):
    make_module, parameter, inputs = BAD_BLOCK_INPUTS[case]
    module = make_module()
    assert_refused_at_entry(module, lambda: module(**inputs), parameter)


def test_dot_product_masks_refuses_weights_of_another_width():
    with pytest.raises(TypeCheckError, match="parameter 'upscaled_embedding'"):
        samdec.dot_product_masks(randn(BATCH, 4, C // 8), randn(BATCH, C // 4, 4 * H, 4 * W))


# --- turning the checks off --------------------------------------------------------------------


@pytest.fixture
def checks_disabled():
    previous = jaxtyping.config.jaxtyping_disable
    jaxtyping.config.update("jaxtyping_disable", True)
    try:
        yield
    finally:
        jaxtyping.config.update("jaxtyping_disable", previous)


def test_disabled_checks_let_a_bad_grid_fail_inside_torch(decoder, checks_disabled):
    inputs = decoder_inputs(image_pe=randn(1, C, H, W - 2))
    with pytest.raises(RuntimeError, match="size of tensor"):
        decoder(**inputs, multimask_output=True)


def test_disabled_checks_let_a_wrong_batch_through_unnamed(decoder, checks_disabled, monkeypatch):
    inputs = decoder_inputs(dense_prompt_embeddings=randn(1, C, H, W))
    # decoded one prompt set per pass, the batches fail to pair up, in words about zip()
    with pytest.raises(ValueError, match="zip"):
        decoder(**inputs, multimask_output=True)
    # in one pass, the single dense prompt broadcasts over the batch without a word
    monkeypatch.setattr(decoder, "prompt_sets_per_pass", BATCH)
    masks, _ = decoder(**inputs, multimask_output=True)
    assert masks.shape == (BATCH, 3, 4 * H, 4 * W)


# the "layer norm 2d: a 3-D input" case above, whose refusal with checks on is tested there
UNCHECKED_PROBE = """
import torch
import samdec

try:
    samdec.LayerNorm2d(4)(torch.randn(2, 4, 5))
except Exception as error:
    print(type(error).__name__)
"""


def test_environment_variable_disables_checks():
    result = subprocess.run(
        [sys.executable, "-c", UNCHECKED_PROBE],
        env=os.environ | {"JAXTYPING_DISABLE": "1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert result.stdout.strip() == "RuntimeError"


# --- every module has a contract ---------------------------------------------------------------


def samdec_module_classes() -> list[type[nn.Module]]:
    classes = []
    for info in pkgutil.walk_packages(samdec.__path__, "samdec."):
        if info.name.endswith("__main__"):
            continue  # running it is the command line, not an import
        module = importlib.import_module(info.name)
        classes += [
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if cls.__module__ == module.__name__ and issubclass(cls, nn.Module)
        ]
    return classes


def test_every_samdec_forward_is_shape_checked():
    classes = samdec_module_classes()
    names = {cls.__name__ for cls in classes}
    assert names >= {"Attention", "MaskDecoder", "PromptEncoder", "TwoWayTransformer", "MLP"}
    unchecked = [
        cls.__qualname__ for cls in classes if not getattr(cls.forward, "__shape_checked__", False)
    ]
    assert unchecked == []


# --- where checks run: at the boundary, and nested only on request ------------------------------


@shape_checked
def inner(x: Float[Tensor, " N"]) -> Float[Tensor, " N"]:
    return x


@shape_checked
def outer(x: Float[Tensor, " N"]) -> Float[Tensor, " N"]:
    inner(torch.zeros(2, 2))  # breaks inner's contract: only a nested check can see it
    return x


def test_shape_checked_is_jaxtyped_with_beartype():
    with pytest.raises(TypeCheckError, match="parameter 'x'"):
        inner(torch.zeros(2, 2))
    with pytest.raises(TypeCheckError):
        inner(torch.zeros(3, dtype=torch.int64))  # beartype checks the dtype too


def test_a_nested_call_is_checked_only_when_nested_checks_are_on(nested_checks):
    nested_checks(False)
    outer(torch.zeros(3))  # the outer contract holds; the inner call is not checked again
    inner_alone = pytest.raises(TypeCheckError, match="parameter 'x'")
    with inner_alone:
        inner(torch.zeros(2, 2))  # after the outer call, a call from outside is checked again
    nested_checks(True)
    with pytest.raises(TypeCheckError, match=r"test_contracts\.inner"):
        outer(torch.zeros(3))


def test_a_refused_nested_call_leaves_the_boundary_intact(nested_checks):
    nested_checks(False)
    with pytest.raises(TypeCheckError):
        outer(torch.zeros(2, 2))
    with pytest.raises(TypeCheckError):
        inner(torch.zeros(2, 2))


def test_the_environment_switches_nested_checks_on():
    probe = "from samdec import contracts; print(contracts.check_nested_calls(False))"
    for value, expected in (("1", "True"), ("0", "False")):
        result = subprocess.run(
            [sys.executable, "-c", probe],
            env=os.environ | {"SAMDEC_CHECK_NESTED": value},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        assert result.stdout.strip() == expected
