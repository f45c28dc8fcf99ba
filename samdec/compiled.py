"""`torch.compile` for the mask decoder and the prompt encoder.

Compiled, a module runs as fused kernels generated for the shapes it has seen (inductor, C++ on a
CPU); its first call at a new shape compiles, which takes seconds to minutes, so compiling pays off
in a loop of many calls at one shape (clicks on one image, segment-everything batches). The shape
contracts leave the compiled graph (`shape_checked` steps aside while torch compiles). The
decoder's `forward` stays eager and still checks its inputs; the compiled prompt encoder and a
direct call of the compiled `predict_masks` are not checked, and a call at a shape they have not
seen compiles again instead of being refused. Check a new use in eager mode first.
"""

import types

import torch

from samdec.mask_decoder import MaskDecoder
from samdec.prompt_encoder import PromptEncoder


def compile_decoder(
    mask_decoder: MaskDecoder, prompt_encoder: PromptEncoder | None = None, **options
) -> None:
    """Compiles `mask_decoder`, and `prompt_encoder` if given, in place: same objects, same
    `state_dict` keys, same outputs to float32 rounding. `options` go to `torch.compile`
    (`mode=`, `dynamic=`, ...).

    Of the decoder, the work of one pass (`predict_masks`) is compiled, not `forward`: forward's
    loop over passes would otherwise be unrolled into the graph, one copy per pass of the batch,
    while this way the compiled pass serves every batch size. It compiles once per input layout:
    the prompt encoder's no-mask dense prompt, a broadcast view, has another layout in a batch
    than alone, so a click and a batch compile once each."""
    # bound to the module itself, so that a deep copy binds to the copy's weights
    mask_decoder.predict_masks = types.MethodType(
        torch.compile(MaskDecoder.predict_masks, **options), mask_decoder
    )
    if prompt_encoder is not None:
        prompt_encoder.compile(**options)
