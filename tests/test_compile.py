"""torch.compile: the compiled decoder and prompt encoder give the eager outputs, and a second call
at the same shapes runs the compiled code without compiling again; the decoder's compiled pass
serves any number of prompt sets.

COSTLY: compiling takes tens of seconds per module on a CPU. To keep compilations few, the tests
use one small configuration (the narrow decoder of the parity suite, depth 1): one compilation of
each module at B=1, and one of the decoder's pass for a batch; the speed at SAM's shapes lives in
the benchmark, not here.
"""

import copy

import pytest
import torch
from conftest import assert_matches, randomize_

import samdec

WIDTHS = {"transformer_dim": 64, "num_heads": 4, "mlp_dim": 128, "depth": 1}


def randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(autouse=True)
def _fresh_compile_caches():
    torch.compiler.reset()
    yield
    torch.compiler.reset()


def test_compiled_decoder_and_prompt_encoder_match_eager():
    prompt_encoder = randomize_(
        samdec.build_prompt_encoder(embed_dim=64, image_embedding_size=(16, 16), mask_in_chans=16)
    ).eval()
    decoder = randomize_(samdec.build_mask_decoder(**WIDTHS)).eval()
    prompts = {
        "points": (randn(1, 2, 2, seed=1).abs() * 100, torch.tensor([[1, 0]])),
        "boxes": None,
        "masks": None,
    }
    with torch.no_grad():
        sparse, dense = prompt_encoder(**prompts)
        inputs = {
            "image_embeddings": randn(1, 64, 16, 16, seed=2),
            "image_pe": prompt_encoder.get_dense_pe(),
            "sparse_prompt_embeddings": sparse,
            "dense_prompt_embeddings": dense,
            "multimask_output": True,
        }
        expected = (*prompt_encoder(**prompts), *decoder(**inputs))

        samdec.compile_decoder(decoder, prompt_encoder)
        compiled = (*prompt_encoder(**prompts), *decoder(**inputs))
        with torch.compiler.set_stance("fail_on_recompile"):
            again = (*prompt_encoder(**prompts), *decoder(**inputs))

    for actual, reference in zip(compiled, expected, strict=True):
        assert_matches(actual, reference)
    for actual, first in zip(again, compiled, strict=True):
        assert torch.equal(actual, first)


def test_compiled_decoder_serves_every_batch_size_from_one_compiled_pass():
    prompt_encoder = randomize_(
        samdec.build_prompt_encoder(embed_dim=64, image_embedding_size=(16, 16), mask_in_chans=16)
    ).eval()
    decoder = randomize_(samdec.build_mask_decoder(**WIDTHS)).eval()

    def inputs(batch: int) -> dict:
        # the prompt encoder's own outputs: the no-mask dense prompt is a broadcast view
        points = (randn(batch, 2, 2, seed=batch).abs() * 100, torch.ones(batch, 2, dtype=torch.int))
        sparse, dense = prompt_encoder(points=points, boxes=None, masks=None)
        return {
            "image_embeddings": randn(1, 64, 16, 16, seed=2),
            "image_pe": prompt_encoder.get_dense_pe(),
            "sparse_prompt_embeddings": sparse,
            "dense_prompt_embeddings": dense,
            "multimask_output": False,
        }

    with torch.no_grad():
        batch_of_two, batch_of_five = inputs(2), inputs(5)
        expected = decoder(**batch_of_five)
        samdec.compile_decoder(decoder)
        decoder(**batch_of_two)  # compiles the pass once for the batch layout
        with torch.compiler.set_stance("fail_on_recompile"):
            compiled = decoder(**batch_of_five)
    for actual, reference in zip(compiled, expected, strict=True):
        assert_matches(actual, reference)


def test_a_compiled_decoder_copies_with_its_own_weights():
    decoder = randomize_(samdec.build_mask_decoder(**WIDTHS)).eval()
    samdec.compile_decoder(decoder)
    twin = copy.deepcopy(decoder)
    assert twin.predict_masks.__self__ is twin  # not the original: the copy runs its own weights
