"""`torch.compile` for the mask decoder and the prompt encoder.

Compiled, a module runs as fused kernels generated for the shapes it has seen (inductor, C++ on a
CPU); its first call at a new shape compiles, which takes seconds to minutes, so compiling pays off
in a loop of many calls at one shape (clicks on one image, segment-everything batches). The shape
contracts leave the compiled graph (`shape_checked` steps aside while torch compiles): a compiled
module is not checked, and a call at a shape it has not seen compiles again instead of being
refused. Check a new use in eager mode first.
"""

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
    while this way one compiled pass serves every batch size."""
    mask_decoder.predict_masks = torch.compile(mask_decoder.predict_masks, **options)
    if prompt_encoder is not None:
        prompt_encoder.compile(**options)
