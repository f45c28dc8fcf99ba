"""The shape tracer: the walk-through's shapes at the right paths, in call order, and no trace of
the tracing left on the modules afterwards."""

import itertools
import subprocess
import sys

import pytest
import torch

import samdec.mask_decoder
from samdec import Attention, dot_product_masks
from samdec.example import MULTIMASK_OUTPUT, example_decoder_inputs, example_modules
from samdec.trace import call_at, calls_at, format_table, trace_example, tracing

LAYER = "transformer.layers.0"


@pytest.fixture(scope="module")
def calls():
    return trace_example()


def test_decoder_inputs_and_outputs(calls):
    root = calls[0]
    assert (root.path, root.name, root.depth) == ("", "MaskDecoder", 0)
    assert root.input("image_embeddings") == (1, 256, 64, 64)
    assert root.input("image_pe") == (1, 256, 64, 64)
    assert root.input("sparse_prompt_embeddings") == (1, 3, 256)
    assert root.input("dense_prompt_embeddings") == (1, 256, 64, 64)
    assert root.inputs["multimask_output"] == "True"
    assert root.outputs == ((1, 3, 256, 256), (1, 3))
    # before the multimask slice: one mask and one score per mask token
    assert call_at(calls, "predict_masks").outputs == ((1, 4, 256, 256), (1, 4))


def test_transformer_shapes(calls):
    transformer = call_at(calls, "transformer")
    assert transformer.input("point_embedding") == (1, 8, 256)  # IoU + 4 mask + 3 prompt tokens
    assert transformer.outputs == ((1, 8, 256), (1, 4096, 256))
    layer = call_at(calls, LAYER)
    assert layer.inputs == {
        "queries": (1, 8, 256),
        "keys": (1, 4096, 256),
        "query_pe": (1, 8, 256),
        "key_pe": (1, 4096, 256),
    }
    assert layer.outputs == ((1, 8, 256), (1, 4096, 256))


def test_self_attention_keeps_the_full_width(calls):
    path = f"{LAYER}.self_attn"
    assert call_at(calls, f"{path}.q_proj").output == (1, 8, 256)
    assert [c.output for c in calls_at(calls, f"{path}._separate_heads")] == [(1, 8, 8, 32)] * 3
    # computed explicitly: the weights are a step of their own, inside the attention
    assert call_at(calls, f"{path}._attend").output == (1, 8, 8, 32)
    weights = call_at(calls, f"{path}._attention_weights")
    assert weights.output == (1, 8, 8, 8)
    assert weights.depth == call_at(calls, f"{path}._attend").depth + 1
    assert call_at(calls, f"{path}._recombine_heads").output == (1, 8, 256)


def test_cross_attentions_are_128_wide(calls):
    path = f"{LAYER}.cross_attn_token_to_image"
    assert call_at(calls, path).inputs == {
        "q": (1, 8, 256),
        "k": (1, 4096, 256),
        "v": (1, 4096, 256),
    }
    assert call_at(calls, f"{path}.q_proj").output == (1, 8, 128)
    assert call_at(calls, f"{path}.k_proj").output == (1, 4096, 128)
    heads = [c.output for c in calls_at(calls, f"{path}._separate_heads")]
    assert heads == [(1, 8, 8, 16), (1, 8, 4096, 16), (1, 8, 4096, 16)]
    # one fused call: its [1, 8, 8, 4096] weights are never a tensor of their own
    assert call_at(calls, f"{path}._attend").inputs == {
        "q": (1, 8, 8, 16),
        "k": (1, 8, 4096, 16),
        "v": (1, 8, 4096, 16),
    }
    assert call_at(calls, f"{path}._attend").output == (1, 8, 8, 16)
    assert not any(c.path == f"{path}._attention_weights" for c in calls)
    assert call_at(calls, f"{path}.out_proj").output == (1, 8, 256)

    # the image attends to the tokens: queries and keys swap
    path = f"{LAYER}.cross_attn_image_to_token"
    assert call_at(calls, path).inputs == {"q": (1, 4096, 256), "k": (1, 8, 256), "v": (1, 8, 256)}
    assert call_at(calls, f"{path}._attend").output == (1, 8, 4096, 16)
    assert call_at(calls, path).output == (1, 4096, 256)


def test_heads_and_upscaling(calls):
    assert call_at(calls, "output_upscaling").output == (1, 32, 256, 256)
    assert call_at(calls, "output_upscaling.0").output == (1, 64, 128, 128)
    hypernetworks = [call_at(calls, f"output_hypernetworks_mlps.{i}") for i in range(4)]
    assert [(c.input(), c.output) for c in hypernetworks] == [((1, 256), (1, 32))] * 4
    assert call_at(calls, "iou_prediction_head").output == (1, 4)


def test_calls_are_in_call_order_with_their_depth(calls):
    paths = [call.path for call in calls]
    order = [
        "",
        "predict_masks",
        "transformer",
        LAYER,
        f"{LAYER}.self_attn",
        f"{LAYER}.self_attn.q_proj",
        f"{LAYER}.self_attn._separate_heads",
        f"{LAYER}.norm1",
        f"{LAYER}.cross_attn_token_to_image",
        f"{LAYER}.mlp",
        f"{LAYER}.cross_attn_image_to_token",
        "transformer.layers.1",
        "transformer.final_attn_token_to_image",
        "output_upscaling",
        "output_hypernetworks_mlps.0",
        "iou_prediction_head",
    ]
    positions = [paths.index(path) for path in order]
    assert positions == sorted(positions)
    depths = {call.path: call.depth for call in calls}
    assert depths[f"{LAYER}.self_attn._separate_heads"] == depths[f"{LAYER}.self_attn"] + 1 == 5
    assert depths["output_upscaling"] == depths["transformer"] == 2
    # every call is nested in the call just before it, or in one of that call's enclosing calls
    for before, call in itertools.pairwise(calls):
        assert 1 <= call.depth <= before.depth + 1


def test_tracing_leaves_the_modules_as_they_were():
    prompt_encoder, decoder = example_modules(seed=0)
    inputs = example_decoder_inputs(prompt_encoder, seed=0)
    with torch.no_grad():
        expected = decoder(**inputs, multimask_output=MULTIMASK_OUTPUT)
        with tracing(decoder) as recorded:
            traced = decoder(**inputs, multimask_output=MULTIMASK_OUTPUT)
        assert len(recorded()) > 100

        # an error inside the block must not leave hooks behind either
        with pytest.raises(RuntimeError, match="inside"), tracing(decoder):
            raise RuntimeError("inside")

    for result, reference in zip(traced, expected, strict=True):
        assert torch.equal(result, reference)
    for module in decoder.modules():
        assert not module._forward_hooks
        assert not module._forward_pre_hooks
        assert "predict_masks" not in vars(module)
        if isinstance(module, Attention):
            for name in ("_separate_heads", "_attend", "_attention_weights", "_recombine_heads"):
                assert name not in vars(module)
                assert getattr(module, name).__func__ is getattr(Attention, name)
    assert samdec.mask_decoder.dot_product_masks is dot_product_masks


def test_the_per_mask_dot_product_is_traced(calls):
    dot = call_at(calls, "dot_product_masks")
    assert dot.inputs == {"hyper_in": (1, 4, 32), "upscaled_embedding": (1, 32, 256, 256)}
    assert dot.output == (1, 4, 256, 256)
    assert dot.depth == call_at(calls, "predict_masks").depth + 1


def test_table_indents_by_depth_and_fits_120_columns(calls):
    table = format_table(calls)
    lines = table.splitlines()
    assert lines[0].split() == ["call", "module", "/", "method", "inputs", "outputs"]
    assert max(map(len, lines)) <= 120
    assert any(line.startswith("        cross_attn_token_to_image  Attention") for line in lines)
    assert any("_separate_heads()" in line and "[1,8,4096,16]" in line for line in lines)
    shallow = format_table(calls, max_depth=2)
    assert "q_proj" not in shallow and "output_upscaling" in shallow


def test_cli_prints_the_table():
    result = subprocess.run(
        [sys.executable, "-m", "samdec"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == format_table(trace_example())
    assert "[1,3,256,256]" in result.stdout.splitlines()[1]
    traced = subprocess.run(
        [sys.executable, "-m", "samdec", "trace", "--depth", "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "predict_masks()" in traced.stdout
    assert "transformer" not in traced.stdout
