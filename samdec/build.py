"""Builders with the decoder configuration every released SAM (vit_b, vit_l, vit_h) shares."""

from samdec.mask_decoder import MaskDecoder
from samdec.prompt_encoder import PromptEncoder
from samdec.transforms import IMAGE_SIZE
from samdec.two_way_transformer import TwoWayTransformer

PROMPT_EMBED_DIM = 256
VIT_PATCH_SIZE = 16
IMAGE_EMBEDDING_SIZE = IMAGE_SIZE // VIT_PATCH_SIZE  # 64


def build_mask_decoder(
    transformer_dim: int = PROMPT_EMBED_DIM,
    num_heads: int = 8,
    mlp_dim: int = 2048,
    depth: int = 2,
) -> MaskDecoder:
    """SAM's mask decoder: 4,058,340 parameters with the defaults."""
    return MaskDecoder(
        num_multimask_outputs=3,
        transformer=TwoWayTransformer(
            depth=depth, embedding_dim=transformer_dim, mlp_dim=mlp_dim, num_heads=num_heads
        ),
        transformer_dim=transformer_dim,
        iou_head_depth=3,
        iou_head_hidden_dim=256,
    )


def build_prompt_encoder(
    embed_dim: int = PROMPT_EMBED_DIM,
    image_embedding_size: tuple[int, int] = (IMAGE_EMBEDDING_SIZE, IMAGE_EMBEDDING_SIZE),
    input_image_size: tuple[int, int] = (IMAGE_SIZE, IMAGE_SIZE),
    mask_in_chans: int = 16,
) -> PromptEncoder:
    """SAM's prompt encoder: 256-wide tokens for a 64 x 64 embedding of a 1024 x 1024 input."""
    return PromptEncoder(
        embed_dim=embed_dim,
        image_embedding_size=image_embedding_size,
        input_image_size=input_image_size,
        mask_in_chans=mask_in_chans,
    )
