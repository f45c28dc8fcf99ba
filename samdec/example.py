"""The walk-through's example, shared by the course, the shape tracer and the figures.

`predictor.predict(point_coords=[[1300, 800]], point_labels=[1], box=[[700, 400, 1900, 1100]],
multimask_output=True)` on a photo of a dog. The photo is samdec's own,
`samdec.world.example_scene()`: 2250 x 1500 (W x H), a dog of the generated world in that box, the
point on its body, with ground-truth masks for every object, part and subpart. The model is
samdec's SAM trained on that world (`samdec.pretrained.load_pretrained()`): its image encoder
computes the photo's real embedding once, and the prompt encoder and the mask decoder are SAM's,
at SAM's configuration.

With `seed=` the functions return SAM's modules with seeded random weights and a seeded-noise
embedding instead: the same shapes without the trained model, for plumbing and parity tests.
"""

from functools import cache

import numpy as np
import torch
from beartype import beartype
from jaxtyping import Float, Int
from torch import Tensor

from samdec.build import build_mask_decoder, build_prompt_encoder
from samdec.contracts import shape_checked
from samdec.mask_decoder import MaskDecoder
from samdec.predictor import SamPredictor
from samdec.pretrained import load_pretrained
from samdec.prompt_encoder import PromptEncoder
from samdec.transforms import resized_shape, transform_boxes, transform_coords
from samdec.world import RenderedScene, example_scene

ORIGINAL_SIZE = (1500, 2250)  # (H, W) of the example photo
POINT_COORDS = [[1300.0, 800.0]]  # (x, y) in original pixels
POINT_LABELS = [1]  # foreground
BOX = [[700.0, 400.0, 1900.0, 1100.0]]  # (x0, y0, x1, y1) in original pixels
MULTIMASK_OUTPUT = True


@cache
def example_photo() -> RenderedScene:
    """The example scene rendered at its own size: the H x W x 3 photo and its label maps. Cached:
    treat it as read-only."""
    photo = example_scene().render()
    assert photo.image.shape[:2] == ORIGINAL_SIZE
    return photo


@beartype
def example_object() -> int:
    """The index of the object under the point: the dog."""
    ((x, y),) = POINT_COORDS
    return int(example_photo().object_id[int(y), int(x)])


@beartype
def example_object_mask() -> np.ndarray:
    """The dog's ground-truth mask, H x W bool at the photo's size."""
    return example_photo().mask(example_object())


@cache
def example_predictor() -> SamPredictor:
    """A `SamPredictor` on the trained model with the example photo set: the image encoder has run
    once. Cached, with the model in eval mode: treat it as read-only."""
    predictor = SamPredictor(load_pretrained())
    predictor.set_image(example_photo().image)
    return predictor


@beartype
def example_modules(seed: int | None = None) -> tuple[PromptEncoder, MaskDecoder]:
    """The trained prompt encoder and mask decoder, in eval mode (shared, cached); with `seed`, new
    modules of SAM's configuration with seeded random weights."""
    if seed is None:
        sam = example_predictor().model
        return sam.prompt_encoder, sam.mask_decoder
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
def example_image_embedding(seed: int | None = None) -> Float[Tensor, "1 256 64 64"]:
    """The image encoder's output on the example photo; with `seed`, seeded unit-variance noise."""
    if seed is None:
        return example_predictor().get_image_embedding()
    return torch.randn(1, 256, 64, 64, generator=torch.Generator().manual_seed(seed))


@shape_checked
def example_decoder_inputs(
    prompt_encoder: PromptEncoder, seed: int | None = None
) -> dict[str, Tensor]:
    """The four tensors `MaskDecoder.forward` receives in the example, by keyword. `seed` picks
    the noise embedding (see `example_image_embedding`)."""
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
