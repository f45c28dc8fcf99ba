"""`SamPredictor`: set an image once, then prompt it many times (the official API)."""

import numpy as np
import torch
from torch import Tensor

from samdec.sam import Sam
from samdec.transforms import resize_image, transform_boxes, transform_coords


def check_image(image: object) -> None:
    """Refuses, naming the argument, anything but an H x W x 3 uint8 numpy array."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array (H x W x 3 uint8), got {type(image)}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be H x W x 3 (RGB), got shape {image.shape}")
    if image.dtype != np.uint8:
        raise TypeError(f"image must be uint8 with values 0-255, got dtype {image.dtype}")


class SamPredictor:
    """Computes the image embedding once in `set_image`; each `predict` then runs only the prompt
    encoder and the mask decoder.

    Prompts are in the original image's pixels, (x, y). `multimask_output=True` returns three masks
    for an ambiguous prompt (a single point: subpart, part, whole); for an unambiguous one (a box,
    several points) `multimask_output=False` gives the single, better mask.
    """

    def __init__(self, sam_model: Sam) -> None:
        self.model = sam_model
        self.reset_image()

    @property
    def device(self) -> torch.device:
        return self.model.device

    def set_image(self, image: np.ndarray, image_format: str = "RGB") -> None:
        """Embeds an H x W x 3 uint8 image, RGB unless `image_format="BGR"`."""
        if image_format not in ("RGB", "BGR"):
            raise ValueError(f"image_format must be 'RGB' or 'BGR', got {image_format!r}")
        check_image(image)
        if image_format != self.model.image_format:
            image = image[..., ::-1]
        resized = resize_image(np.ascontiguousarray(image), self.model.image_encoder.img_size)
        resized_torch = torch.as_tensor(resized, device=self.device).permute(2, 0, 1)
        self.set_torch_image(resized_torch[None].contiguous(), image.shape[:2])

    @torch.no_grad()
    def set_torch_image(self, transformed_image: Tensor, original_image_size: tuple[int, ...]):
        """Embeds a 1 x 3 x H x W image already resized to longest side `img_size`."""
        size = self.model.image_encoder.img_size
        if transformed_image.ndim != 4 or transformed_image.shape[1] != 3:
            raise ValueError(
                f"transformed_image must be 1 x 3 x H x W, got {tuple(transformed_image.shape)}"
            )
        if max(transformed_image.shape[2:]) != size:
            raise ValueError(f"transformed_image's longest side must be {size}")
        self.reset_image()
        self.original_size = tuple(int(side) for side in original_image_size)
        self.input_size = tuple(transformed_image.shape[-2:])
        input_image = self.model.preprocess(transformed_image.float())
        self.features = self.model.image_encoder(input_image)
        self.is_image_set = True

    def predict(
        self,
        point_coords: np.ndarray | None = None,
        point_labels: np.ndarray | None = None,
        box: np.ndarray | None = None,
        mask_input: np.ndarray | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Masks for one prompt set, in the original image's pixels.

        point_coords: N x 2 (x, y); point_labels: N, 1 foreground, 0 background; box: 4 or 1 x 4,
        (x0, y0, x1, y1); mask_input: 1 x 256 x 256 low-resolution logits of an earlier
        prediction (its third output), to refine.

        Returns masks C x H x W (bool, or logits with `return_logits`), their predicted IoU (C),
        and the C x 256 x 256 low-resolution logits. C is 3 with `multimask_output`, else 1.
        """
        self._require_image()
        coords, labels, box_torch, mask_torch = None, None, None, None
        if point_coords is not None or point_labels is not None:
            coords, labels = self._points(point_coords, point_labels)
        if box is not None:
            box = np.asarray(box, dtype=np.float64)
            if box.shape not in ((4,), (1, 4)):
                raise ValueError(f"box must be 4 numbers (x0, y0, x1, y1), got shape {box.shape}")
            box_torch = transform_boxes(
                torch.as_tensor(box.reshape(1, 4)), self.original_size, self._img_size
            ).to(self.device)
        if mask_input is not None:
            mask_input = np.asarray(mask_input, dtype=np.float32)
            expected = self.model.prompt_encoder.mask_input_size
            if mask_input.shape != (1, *expected):
                raise ValueError(
                    f"mask_input must be 1 x {expected[0]} x {expected[1]} logits (an earlier"
                    f" prediction's third output), got shape {mask_input.shape}"
                )
            mask_torch = torch.as_tensor(mask_input, device=self.device)[None]

        masks, iou_predictions, low_res_masks = self.predict_torch(
            coords, labels, box_torch, mask_torch, multimask_output, return_logits
        )
        return (
            masks[0].numpy(force=True),
            iou_predictions[0].numpy(force=True),
            low_res_masks[0].numpy(force=True),
        )

    @torch.no_grad()
    def predict_torch(
        self,
        point_coords: Tensor | None,
        point_labels: Tensor | None,
        boxes: Tensor | None = None,
        mask_input: Tensor | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """`predict` for a batch of prompt sets already in the resized frame: point_coords
        B x N x 2, point_labels B x N, boxes B x 4, mask_input B x 1 x 256 x 256."""
        self._require_image()
        points = (point_coords, point_labels) if point_coords is not None else None
        sparse, dense = self.model.prompt_encoder(points=points, boxes=boxes, masks=mask_input)
        low_res_masks, iou_predictions = self.model.mask_decoder(
            image_embeddings=self.features,
            image_pe=self.model.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask_output,
        )
        masks = self.model.postprocess_masks(low_res_masks, self.input_size, self.original_size)
        if not return_logits:
            masks = masks > self.model.mask_threshold
        return masks, iou_predictions, low_res_masks

    def get_image_embedding(self) -> Tensor:
        """The 1 x 256 x 64 x 64 embedding of the image set with `set_image`."""
        self._require_image()
        return self.features

    def reset_image(self) -> None:
        self.is_image_set = False
        self.features = None
        self.original_size = None
        self.input_size = None

    @property
    def _img_size(self) -> int:
        return self.model.image_encoder.img_size

    def _require_image(self) -> None:
        if not self.is_image_set:
            raise RuntimeError("An image must be set with .set_image(...) before mask prediction.")

    def _points(self, point_coords, point_labels) -> tuple[Tensor, Tensor]:
        if point_coords is None or point_labels is None:
            raise ValueError("point_coords and point_labels must be given together")
        coords = np.asarray(point_coords, dtype=np.float64)
        labels = np.asarray(point_labels)
        if coords.ndim != 2 or coords.shape[1] != 2:
            raise ValueError(f"point_coords must be N x 2 (x, y), got shape {coords.shape}")
        if labels.shape != (coords.shape[0],):
            raise ValueError(
                f"point_labels must have one label per point: {coords.shape[0]} points,"
                f" point_labels of shape {labels.shape}"
            )
        if not np.isin(labels, (0, 1)).all():
            raise ValueError("point_labels must be 1 (foreground) or 0 (background)")
        coords_torch = transform_coords(torch.as_tensor(coords), self.original_size, self._img_size)
        labels_torch = torch.as_tensor(labels, dtype=torch.int)
        return coords_torch[None].to(self.device), labels_torch[None].to(self.device)
