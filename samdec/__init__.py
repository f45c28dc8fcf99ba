"""samdec: SAM's mask decoder and prompt encoder, with shape contracts checked at run time, and
a SAM trained on a generated world (`load_pretrained`) behind the official predictor API."""

from samdec.attention import Attention
from samdec.automatic_mask_generator import SamAutomaticMaskGenerator
from samdec.build import build_mask_decoder, build_prompt_encoder
from samdec.checkpoint import CheckpointError, load_sam_checkpoint
from samdec.common import LayerNorm2d, MLPBlock
from samdec.compiled import compile_decoder
from samdec.display import shape_str, show_shapes
from samdec.mask_decoder import MaskDecoder, dot_product_masks
from samdec.mlp import MLP
from samdec.output_upscaling import OutputUpscaling
from samdec.position_encoding import PositionEmbeddingRandom
from samdec.predictor import SamPredictor
from samdec.pretrained import load_pretrained
from samdec.prompt_encoder import PromptEncoder
from samdec.sam import Sam, build_sam
from samdec.transforms import postprocess_masks, resized_shape, transform_boxes, transform_coords
from samdec.two_way_transformer import TwoWayAttentionBlock, TwoWayTransformer

__all__ = [
    "MLP",
    "Attention",
    "CheckpointError",
    "LayerNorm2d",
    "MLPBlock",
    "MaskDecoder",
    "OutputUpscaling",
    "PositionEmbeddingRandom",
    "PromptEncoder",
    "Sam",
    "SamAutomaticMaskGenerator",
    "SamPredictor",
    "TwoWayAttentionBlock",
    "TwoWayTransformer",
    "build_mask_decoder",
    "build_prompt_encoder",
    "build_sam",
    "compile_decoder",
    "dot_product_masks",
    "explore",
    "load_pretrained",
    "load_sam_checkpoint",
    "postprocess_masks",
    "resized_shape",
    "shape_str",
    "show_shapes",
    "transform_boxes",
    "transform_coords",
]


def __getattr__(name: str):
    # `samdec.explore` imports matplotlib only when it is used: `import samdec` stays without it
    if name == "explore":
        from samdec.explorer import explore

        return explore
    raise AttributeError(f"module 'samdec' has no attribute {name!r}")
