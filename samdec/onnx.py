"""The prompt encoder and the mask decoder as one ONNX graph, called as the official export is.

`SamOnnxModel` is samdec's version of the official `segment_anything.utils.onnx.SamOnnxModel`: the
same inputs and outputs under the same names, so the official web demo's calling code works
unchanged:

| input | shape | |
| --- | --- | --- |
| `image_embeddings` | 1 x C x H x W | the image encoder's output |
| `point_coords` | 1 x N_points x 2 | (x, y) in the 1024 frame; `N_points` is dynamic |
| `point_labels` | 1 x N_points | 1 foreground, 0 background, 2 and 3 box corners, -1 padding |
| `mask_input` | 1 x 1 x 4H x 4W | a previous low-resolution mask, or anything |
| `has_mask_input` | 1 | 1 to use `mask_input`, 0 to ignore it |
| `orig_im_size` | 2 | (H, W) of the original image |

and `masks` (logits at the original size), `iou_predictions` and `low_res_masks` out. As in the
official export, the caller pads: without a box, a point (0, 0) with label -1 is appended.

The graph needs the optional extra: `pip install -e ".[onnx]"` (onnx, onnxscript, onnxruntime).
"""

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from samdec.contracts import shape_checked
from samdec.mask_decoder import MaskDecoder
from samdec.prompt_encoder import PADDING_LABEL, PromptEncoder
from samdec.transforms import IMAGE_SIZE

INPUT_NAMES = (
    "image_embeddings",
    "point_coords",
    "point_labels",
    "mask_input",
    "has_mask_input",
    "orig_im_size",
)
OUTPUT_NAMES = ("masks", "iou_predictions", "low_res_masks")
OPSET = 18  # the lowest opset torch's dynamo-based exporter writes


class SamOnnxModel(nn.Module):
    """The prompt encoder, the mask decoder and the mask post-processing, written without
    data-dependent control flow so that one graph serves every prompt: labels select embeddings by
    multiplication, `has_mask_input` blends the mask prompt in, sizes are tensor arithmetic.

    With `return_single_mask`, one mask per call: the first (single-mask) output when more than one
    point is given, otherwise the best of the three multimask outputs by predicted IoU, as the
    official export does.
    """

    def __init__(
        self,
        prompt_encoder: PromptEncoder,
        mask_decoder: MaskDecoder,
        return_single_mask: bool = False,
    ) -> None:
        super().__init__()
        self.prompt_encoder = prompt_encoder
        self.mask_decoder = mask_decoder
        self.return_single_mask = return_single_mask

    def _embed_points(self, point_coords: Tensor, point_labels: Tensor) -> Tensor:
        encoder = self.prompt_encoder
        coords = point_coords + 0.5  # pixel centre
        embedding = encoder.pe_layer.forward_with_coords(coords, encoder.input_image_size)
        labels = point_labels.unsqueeze(-1)  # 1 x N_points x 1, broadcast over the width
        # padding points lose their position and get the "not a point" embedding; the others add
        # the embedding of their kind (0 background, 1 foreground, 2 and 3 box corners)
        embedding = embedding * (labels != PADDING_LABEL)
        embedding = embedding + encoder.not_a_point_embed.weight * (labels == PADDING_LABEL)
        for kind, kind_embedding in enumerate(encoder.point_embeddings):
            embedding = embedding + kind_embedding.weight * (labels == kind)
        return embedding

    def _embed_masks(self, mask_input: Tensor, has_mask_input: Tensor) -> Tensor:
        encoder = self.prompt_encoder
        no_mask = encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
        return (
            has_mask_input * encoder.mask_downscaling(mask_input) + (1 - has_mask_input) * no_mask
        )

    def _select_single_mask(
        self, masks: Tensor, iou_predictions: Tensor, num_points: int
    ) -> tuple[Tensor, Tensor]:
        # more than one point (the padding point counts): the single-mask token 0 wins by a margin
        # of 1000; one point and its padding: the best of tokens 1-3. A weighting, not a branch.
        prefer_token_0 = torch.zeros_like(iou_predictions)
        prefer_token_0[:, 0] = 1000.0
        best = torch.argmax(iou_predictions + (num_points - 2.5) * prefer_token_0, dim=1)
        batch = torch.arange(masks.shape[0])
        return masks[batch, best].unsqueeze(1), iou_predictions[batch, best].unsqueeze(1)

    def _postprocess_masks(self, masks: Tensor, orig_im_size: Tensor) -> Tensor:
        # samdec.postprocess_masks, with the sizes as tensors: to the padded 1024 square, crop the
        # padding (the image resized so its longest side is 1024), then to the original size
        masks = F.interpolate(masks, (IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False)
        resized = torch.floor(orig_im_size * (IMAGE_SIZE / orig_im_size.max()) + 0.5).to(
            torch.int64
        )
        masks = masks[..., : resized[0], : resized[1]]
        original = orig_im_size.to(torch.int64)
        return F.interpolate(
            masks, (original[0], original[1]), mode="bilinear", align_corners=False
        )

    @torch.no_grad()
    @shape_checked
    def forward(
        self,
        image_embeddings: Float[Tensor, "1 {self.prompt_encoder.embed_dim} H W"],
        point_coords: Float[Tensor, "1 N_points 2"],
        point_labels: Float[Tensor, "1 N_points"],
        mask_input: Float[Tensor, "1 1 4*H 4*W"],
        has_mask_input: Float[Tensor, "1"],
        orig_im_size: Float[Tensor, "2"],
    ) -> tuple[
        Float[Tensor, "1 N_masks H_original W_original"],
        Float[Tensor, "1 N_masks"],
        Float[Tensor, "1 N_masks 4*H 4*W"],
    ]:
        """`masks` at the original size, `iou_predictions`, `low_res_masks`: four masks per call
        (the single-mask token first), or one with `return_single_mask`."""
        low_res_masks, iou_predictions = self.mask_decoder.predict_masks(
            image_embeddings=image_embeddings,
            image_pe=self.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=self._embed_points(point_coords, point_labels),
            dense_prompt_embeddings=self._embed_masks(mask_input, has_mask_input),
        )
        if self.return_single_mask:
            low_res_masks, iou_predictions = self._select_single_mask(
                low_res_masks, iou_predictions, point_coords.shape[1]
            )
        masks = self._postprocess_masks(low_res_masks, orig_im_size)
        return masks, iou_predictions, low_res_masks


def example_onnx_inputs(prompt_encoder: PromptEncoder, num_points: int = 5) -> dict[str, Tensor]:
    """Inputs of the exported graph's shapes and types, as the official export script makes them:
    random points and labels, a random mask prompt switched on, a 1500 x 2250 image."""
    embed_h, embed_w = prompt_encoder.image_embedding_size
    return {
        "image_embeddings": torch.randn(1, prompt_encoder.embed_dim, embed_h, embed_w),
        "point_coords": torch.randint(0, IMAGE_SIZE, (1, num_points, 2)).float(),
        "point_labels": torch.randint(-1, 4, (1, num_points)).float(),
        "mask_input": torch.randn(1, 1, 4 * embed_h, 4 * embed_w),
        "has_mask_input": torch.tensor([1.0]),
        "orig_im_size": torch.tensor([1500.0, 2250.0]),
    }


def check_export_path(path: str | os.PathLike) -> Path:
    """`path` as a Path, or a clear error if the graph could not be written there: raised before
    the export, which takes a while, runs."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory: give the ONNX file's path")
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the directory {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"cannot write {path}: the directory {folder} is not writable")
    return path


def export_onnx(
    prompt_encoder: PromptEncoder,
    mask_decoder: MaskDecoder,
    path: str | os.PathLike,
    return_single_mask: bool = False,
) -> Path:
    """Writes `SamOnnxModel(prompt_encoder, mask_decoder)` to `path` as one self-contained ONNX
    file (opset 18, torch's dynamo-based exporter), the number of points dynamic. Returns the
    path."""
    path = check_export_path(path)
    model = SamOnnxModel(prompt_encoder, mask_decoder, return_single_mask).eval()
    inputs = example_onnx_inputs(prompt_encoder)
    num_points = torch.export.Dim("num_points", min=1)
    dynamic_shapes = {name: None for name in INPUT_NAMES}
    dynamic_shapes["point_coords"] = dynamic_shapes["point_labels"] = {1: num_points}
    program = torch.onnx.export(
        model,
        kwargs=inputs,
        input_names=list(INPUT_NAMES),
        output_names=list(OUTPUT_NAMES),
        opset_version=OPSET,
        dynamic_shapes=dynamic_shapes,
        dynamo=True,
        external_data=False,
    )
    program.save(str(path), external_data=False)
    return path
