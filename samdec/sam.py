"""`Sam`: image encoder, prompt encoder and mask decoder together, with SAM's pre/post-processing.

The official class's names and API. Only the image encoder differs: samdec's is a small stand-in
(`samdec.image_encoder`); the prompt encoder and mask decoder are SAM's, at SAM's configuration,
with the official state_dict keys.
"""

from typing import Any

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from samdec.build import build_mask_decoder, build_prompt_encoder
from samdec.contracts import shape_checked
from samdec.image_encoder import PATCH_SIZE, StandInImageEncoder
from samdec.mask_decoder import MaskDecoder
from samdec.prompt_encoder import PromptEncoder
from samdec.transforms import IMAGE_SIZE, postprocess_masks

# ImageNet's mean and std in 0-255 RGB, as SAM normalises its input
PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)


class Sam(nn.Module):
    mask_threshold: float = 0.0  # mask logits above this are the mask
    image_format: str = "RGB"

    def __init__(
        self,
        image_encoder: StandInImageEncoder,
        prompt_encoder: PromptEncoder,
        mask_decoder: MaskDecoder,
        pixel_mean: tuple[float, float, float] = PIXEL_MEAN,
        pixel_std: tuple[float, float, float] = PIXEL_STD,
    ) -> None:
        super().__init__()
        self.image_encoder = image_encoder
        self.prompt_encoder = prompt_encoder
        self.mask_decoder = mask_decoder
        # not persistent: a state_dict holds the three modules' weights only, as the official one
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean).view(-1, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std).view(-1, 1, 1), False)

    @property
    def device(self) -> torch.device:
        return self.pixel_mean.device

    @shape_checked
    def preprocess(
        self, x: Float[Tensor, "3 H W"] | Float[Tensor, "1 3 H W"]
    ) -> Float[Tensor, "*one 3 {self.image_encoder.img_size} {self.image_encoder.img_size}"]:
        """Normalise a resized image (longest side `img_size`) and pad it at the bottom and right
        to the encoder's square. The padding is zero after normalisation: the mean colour."""
        x = (x - self.pixel_mean) / self.pixel_std
        h, w = x.shape[-2:]
        size = self.image_encoder.img_size
        return F.pad(x, (0, size - w, 0, size - h))

    @shape_checked
    def postprocess_masks(
        self,
        masks: Float[Tensor, "B N_masks H W"],
        input_size: tuple[int, int],
        original_size: tuple[int, int],
    ) -> Float[Tensor, "B N_masks {original_size[0]} {original_size[1]}"]:
        """Low-resolution mask logits to the original image's size: see `samdec.transforms`."""
        return postprocess_masks(masks, input_size, original_size, self.image_encoder.img_size)

    @torch.no_grad()
    @shape_checked
    def forward(
        self, batched_input: list[dict[str, Any]], multimask_output: bool
    ) -> list[dict[str, Tensor]]:
        """The official batched entry point. Each dict holds `image` (3 x H x W, already resized
        to longest side 1024), `original_size` (H, W), and optionally `point_coords` (B x N x 2),
        `point_labels` (B x N), `boxes` (B x 4), `mask_inputs` (B x 1 x 256 x 256), in the
        resized frame. Returns per image `masks` (bool, original size), `iou_predictions` and
        `low_res_logits`."""
        images = torch.stack([self.preprocess(record["image"]) for record in batched_input])
        image_embeddings = self.image_encoder(images)
        outputs = []
        for record, embedding in zip(batched_input, image_embeddings, strict=True):
            points = None
            if "point_coords" in record:
                points = (record["point_coords"], record["point_labels"])
            sparse, dense = self.prompt_encoder(
                points=points, boxes=record.get("boxes"), masks=record.get("mask_inputs")
            )
            low_res_masks, iou_predictions = self.mask_decoder(
                image_embeddings=embedding.unsqueeze(0),
                image_pe=self.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=multimask_output,
            )
            masks = self.postprocess_masks(
                low_res_masks, tuple(record["image"].shape[-2:]), tuple(record["original_size"])
            )
            outputs.append(
                {
                    "masks": masks > self.mask_threshold,
                    "iou_predictions": iou_predictions,
                    "low_res_logits": low_res_masks,
                }
            )
        return outputs


def build_sam(image_size: int = IMAGE_SIZE) -> Sam:
    """samdec's SAM: the stand-in image encoder, and SAM's prompt encoder and mask decoder at
    SAM's configuration. A smaller `image_size` (a multiple of 16) gives a smaller embedding grid
    with the same weights: training starts at 512 (a 32 x 32 grid), then goes on at 1024."""
    grid = image_size // PATCH_SIZE
    return Sam(
        image_encoder=StandInImageEncoder(img_size=image_size),
        prompt_encoder=build_prompt_encoder(
            image_embedding_size=(grid, grid), input_image_size=(image_size, image_size)
        ),
        mask_decoder=build_mask_decoder(),
    )
