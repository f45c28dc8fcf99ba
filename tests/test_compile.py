"""torch.compile: the compiled decoder and prompt encoder give the eager outputs, and a second call
at the same shapes runs the compiled code without compiling again; the decoder's compiled pass
serves any number of prompt sets.

COSTLY: compiling takes tens of seconds per module on a CPU. To keep it to one compilation each,
the test uses one small configuration (the narrow decoder of the parity suite, depth 1, B=1); the
speed at SAM's shapes lives in the benchmark, not here.
"""

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
    decoder = randomize_(samdec.build_mask_decoder(**WIDTHS)).eval()

    def inputs(batch: int) -> dict:
        return {
            "image_embeddings": randn(1, 64, 16, 16, seed=2),
            "image_pe": randn(1, 64, 16, 16, seed=3),
            "sparse_prompt_embeddings": randn(batch, 3, 64, seed=4),
            "dense_prompt_embeddings": randn(batch, 64, 16, 16, seed=5),
            "multimask_output": False,
        }

    with torch.no_grad():
        expected = decoder(**inputs(5))
        samdec.compile_decoder(decoder)
        decoder(**inputs(2))  # compiles the pass once
        with torch.compiler.set_stance("fail_on_recompile"):
            compiled = decoder(**inputs(5))
    for actual, reference in zip(compiled, expected, strict=True):
        assert_matches(actual, reference)
