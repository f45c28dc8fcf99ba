"""The predictor's geometry: original image -> 1024 frame -> low-resolution masks -> original.

SAM resizes an image so that its longest side is 1024 and pads the rest of the square at the bottom
or right; prompts given in original pixels are scaled by the same factor, and the decoder's
256 x 256 mask logits are scaled back: to the padded 1024 frame, cropped to the resized image,
then to the original size.
"""

import numpy as np
import torch.nn.functional as F
from beartype import beartype
from jaxtyping import Float, Real
from PIL import Image
from torch import Tensor

from samdec.contracts import shape_checked

IMAGE_SIZE = 1024  # the image encoder's square input


@beartype
def resized_shape(original_size: tuple[int, int], long_side: int = IMAGE_SIZE) -> tuple[int, int]:
    """(H, W) of an image of `original_size` (H, W) resized so its longest side is `long_side`."""
    old_h, old_w = original_size
    scale = long_side / max(old_h, old_w)
    return int(old_h * scale + 0.5), int(old_w * scale + 0.5)


@shape_checked
def transform_coords(
    coords: Real[Tensor, "*batch 2"], original_size: tuple[int, int], long_side: int = IMAGE_SIZE
) -> Float[Tensor, "*batch 2"]:
    """(x, y) pixel coordinates of the original image, in the resized image's frame."""
    new_h, new_w = resized_shape(original_size, long_side)
    old_h, old_w = original_size
    coords = coords.to(float).clone()
    coords[..., 0] = coords[..., 0] * (new_w / old_w)
    coords[..., 1] = coords[..., 1] * (new_h / old_h)
    return coords.float()


@shape_checked
def transform_boxes(
    boxes: Real[Tensor, "*batch 4"], original_size: tuple[int, int], long_side: int = IMAGE_SIZE
) -> Float[Tensor, "*batch 4"]:
    """(x0, y0, x1, y1) boxes of the original image, in the resized image's frame."""
    corners = transform_coords(boxes.reshape(*boxes.shape[:-1], 2, 2), original_size, long_side)
    return corners.reshape(boxes.shape)


@shape_checked
def postprocess_masks(
    masks: Float[Tensor, "B N_masks H W"],
    input_size: tuple[int, int],
    original_size: tuple[int, int],
    image_size: int = IMAGE_SIZE,
) -> Float[Tensor, "B N_masks {original_size[0]} {original_size[1]}"]:
    """Low-resolution mask logits back to the original image: upsample to the padded square input,
    remove the padding (keep `input_size`, the resized image), then resize to `original_size`."""
    masks = F.interpolate(masks, (image_size, image_size), mode="bilinear", align_corners=False)
    masks = masks[..., : input_size[0], : input_size[1]]
    return F.interpolate(masks, original_size, mode="bilinear", align_corners=False)


@beartype
def resize_image(image: np.ndarray, long_side: int = IMAGE_SIZE) -> np.ndarray:
    """An H x W x 3 uint8 image resized (bilinear, as the official predictor does through PIL) so
    that its longest side is `long_side`."""
    h, w = resized_shape(image.shape[:2], long_side)
    return np.array(Image.fromarray(image).resize((w, h), Image.Resampling.BILINEAR))
