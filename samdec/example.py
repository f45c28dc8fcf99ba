"""The walk-through's example, shared by the course, the shape tracer and the figures.

`predictor.predict(point_coords=[[1300, 800]], point_labels=[1], box=[[700, 400, 1900, 1100]],
multimask_output=True)` on a photo of a dog. The photo's size is not given; we assume 2250 x 1500
(W x H), which holds the point and the box. No weights or images are downloaded: the modules get
seeded random weights and the image embedding is seeded noise, so the shapes and the arithmetic are
SAM's while the masks are not a dog.
"""

import torch
from beartype import beartype
from jaxtyping import Float, Int
from torch import Tensor

from samdec.build import build_mask_decoder, build_prompt_encoder
from samdec.contracts import shape_checked
from samdec.mask_decoder import MaskDecoder
from samdec.prompt_encoder import PromptEncoder
from samdec.transforms import resized_shape, transform_boxes, transform_coords

ORIGINAL_SIZE = (1500, 2250)  # (H, W), assumed
POINT_COORDS = [[1300.0, 800.0]]  # (x, y) in original pixels
POINT_LABELS = [1]  # foreground
BOX = [[700.0, 400.0, 1900.0, 1100.0]]  # (x0, y0, x1, y1) in original pixels
MULTIMASK_OUTPUT = True


def example_modules(seed: int = 0) -> tuple[PromptEncoder, MaskDecoder]:
    """SAM's prompt encoder and mask decoder with seeded random weights, in eval mode."""
    torch.manual_seed(seed)
    return build_prompt_encoder().eval(), build_mask_decoder().eval()


@shape_checked
def example_prompts() -> tuple[Float[Tensor, "1 1 2"], Int[Tensor, "1 1"], Float[Tensor, "1 4"]]:
    """The point, its label and the box, moved into the 1024 frame as the predictor does."""
    coords = transform_coords(torch.tensor([POINT_COORDS]), ORIGINAL_SIZE)
    labels = torch.tensor([POINT_LABELS], dtype=torch.int)
    boxes = transform_boxes(torch.tensor(BOX), ORIGINAL_SIZE)
    return coords, labels, boxes


@shape_checked
def example_image_embedding(seed: int = 0) -> Float[Tensor, "1 256 64 64"]:
    """Stands in for the image encoder's output on the photo: seeded unit-variance noise."""
    return torch.randn(1, 256, 64, 64, generator=torch.Generator().manual_seed(seed))


@shape_checked
def example_decoder_inputs(prompt_encoder: PromptEncoder, seed: int = 0) -> dict[str, Tensor]:
    """The four tensors `MaskDecoder.forward` receives in the example, by keyword."""
    coords, labels, boxes = example_prompts()
    with torch.no_grad():
        sparse, dense = prompt_encoder(points=(coords, labels), boxes=boxes, masks=None)
        image_pe = prompt_encoder.get_dense_pe()
    return {
        "image_embeddings": example_image_embedding(seed),
        "image_pe": image_pe,
        "sparse_prompt_embeddings": sparse,
        "dense_prompt_embeddings": dense,
    }


@beartype
def input_size() -> tuple[int, int]:
    """(H, W) of the photo resized to longest side 1024, before padding to 1024 x 1024."""
    return resized_shape(ORIGINAL_SIZE)
