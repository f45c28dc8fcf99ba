"""`SamAutomaticMaskGenerator`: segment everything in an image (the official API).

A grid of single-point prompts covers the image; each point gets SAM's three masks (subpart, part,
whole), and the masks that SAM rates poorly, that are unstable, or that repeat a better mask are
dropped.
"""

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import Tensor

from samdec.amg import (
    box_area,
    box_nms,
    box_xyxy_to_xywh,
    build_layer_point_grids,
    generate_crop_boxes,
    is_box_near_crop_edge,
    mask_to_rle,
    masks_to_boxes,
    remove_small_regions,
    stability_score,
)
from samdec.predictor import SamPredictor, check_image
from samdec.sam import Sam
from samdec.transforms import resized_shape

OUTPUT_MODES = ("binary_mask", "uncompressed_rle")


@dataclass
class _Candidates:
    """Masks found so far, one row per mask. Masks are stored bit-packed (an eighth of a bool
    array's memory) in the frame of their crop; boxes and points are in the image's frame."""

    packed_masks: np.ndarray  # N x ceil(crop_h * crop_w / 8) uint8
    iou_preds: Tensor  # N
    stability_score: Tensor  # N
    points: Tensor  # N x 2 float64, (x, y) in pixels
    boxes: Tensor  # N x 4 int64, XYXY inclusive
    crop_boxes: Tensor  # N x 4 int64, XYXY end exclusive

    def __len__(self) -> int:
        return len(self.iou_preds)

    def select(self, keep: Tensor) -> "_Candidates":
        """The rows picked by a bool mask or a list of indices, in that order."""
        keep = torch.as_tensor(keep)
        return _Candidates(
            self.packed_masks[keep.numpy()],
            *(getattr(self, f.name)[keep] for f in fields(self)[1:]),
        )

    @staticmethod
    def concatenate(parts: list["_Candidates"]) -> "_Candidates":
        """Rows of several crops: masks of different crop sizes are padded to the widest."""
        width = max(part.packed_masks.shape[1] for part in parts)
        packed = [
            np.pad(p.packed_masks, ((0, 0), (0, width - p.packed_masks.shape[1]))) for p in parts
        ]
        return _Candidates(
            np.concatenate(packed),
            *(torch.cat([getattr(p, f.name) for p in parts]) for f in fields(_Candidates)[1:]),
        )

    def mask(self, i: int, image_size: tuple[int, int]) -> np.ndarray:
        """Mask i unpacked and placed in the image: H x W bool."""
        x0, y0, x1, y1 = self.crop_boxes[i].tolist()
        crop = np.unpackbits(self.packed_masks[i], count=(y1 - y0) * (x1 - x0))
        mask = np.zeros(image_size, dtype=bool)
        mask[y0:y1, x0:x1] = crop.reshape(y1 - y0, x1 - x0)
        return mask


class SamAutomaticMaskGenerator:
    """Masks for everything in an image, from a grid of point prompts.

    The pipeline, per crop of the image (only the whole image unless `crop_n_layers > 0`):
    1. a grid of `points_per_side` x `points_per_side` points (or the given `point_grids`);
    2. SAM's three masks for each point, `points_per_batch` points at a time;
    3. masks whose predicted IoU is at most `pred_iou_thresh` are dropped;
    4. the stability score: the IoU of the mask cut at logit +`stability_score_offset` with the
       mask cut at -`stability_score_offset`; masks below `stability_score_thresh` are dropped;
    5. the masks' boxes; masks cut off by a crop's inner edge are dropped;
    6. box non-maximum suppression at `box_nms_thresh`, the better predicted IoU winning.
    Across crops, box NMS at `crop_nms_thresh` prefers masks from smaller crops. Then, if
    `min_mask_region_area > 0`, holes and islands smaller than that are removed from each mask
    (8-connected regions, in numpy: no OpenCV) and box NMS runs again, preferring masks it left
    unchanged.

    Arguments are the official ones. `output_mode` is "binary_mask" (H x W bool arrays) or
    "uncompressed_rle" (COCO's uncompressed run lengths); "coco_rle" needs pycocotools, which
    samdec does not depend on, and is refused. Thresholds are in [0, 1]; a threshold of 0 turns
    its filter off, as in the official code.

    `generate(image)` returns one dict per mask, best predicted IoU first (within a crop):
    segmentation, area, bbox (XYWH, inclusive pixel indices as the official code), predicted_iou,
    point_coords ([[x, y]], the prompt), stability_score, crop_box (XYWH).
    """

    def __init__(
        self,
        model: Sam,
        points_per_side: int | None = 32,
        points_per_batch: int = 64,
        pred_iou_thresh: float = 0.88,
        stability_score_thresh: float = 0.95,
        stability_score_offset: float = 1.0,
        box_nms_thresh: float = 0.7,
        crop_n_layers: int = 0,
        crop_nms_thresh: float = 0.7,
        crop_overlap_ratio: float = 512 / 1500,
        crop_n_points_downscale_factor: int = 1,
        point_grids: list[np.ndarray] | None = None,
        min_mask_region_area: int = 0,
        output_mode: str = "binary_mask",
    ) -> None:
        for name, value in [
            ("pred_iou_thresh", pred_iou_thresh),
            ("stability_score_thresh", stability_score_thresh),
            ("box_nms_thresh", box_nms_thresh),
            ("crop_nms_thresh", crop_nms_thresh),
        ]:
            _check_fraction(name, value)
        _check_fraction("crop_overlap_ratio", crop_overlap_ratio, upper_inclusive=False)
        for name, value, least in [
            ("points_per_batch", points_per_batch, 1),
            ("crop_n_layers", crop_n_layers, 0),
            ("crop_n_points_downscale_factor", crop_n_points_downscale_factor, 1),
            ("min_mask_region_area", min_mask_region_area, 0),
        ]:
            _check_int(name, value, least)
        if not _is_number(stability_score_offset) or stability_score_offset < 0:
            raise ValueError(
                "stability_score_offset must be a number >= 0 (logits),"
                f" got {stability_score_offset!r}"
            )
        if output_mode == "coco_rle":
            raise ValueError(
                "output_mode 'coco_rle' needs pycocotools, which samdec does not depend on: use"
                " 'uncompressed_rle' (and pycocotools' frPyObjects to compress it) or 'binary_mask'"
            )
        if output_mode not in OUTPUT_MODES:
            raise ValueError(f"output_mode must be one of {OUTPUT_MODES}, got {output_mode!r}")

        if (points_per_side is None) == (point_grids is None):
            raise ValueError(
                "give exactly one of points_per_side and point_grids"
                f" (got points_per_side={points_per_side!r} and "
                f"{'no' if point_grids is None else 'a'} point_grids); pass points_per_side=None"
                " with point_grids"
            )
        if points_per_side is not None:
            _check_int("points_per_side", points_per_side, 1)
            point_grids = build_layer_point_grids(
                points_per_side, crop_n_layers, crop_n_points_downscale_factor
            )
        else:
            point_grids = [_check_point_grid(i, grid) for i, grid in enumerate(point_grids)]
            if len(point_grids) != crop_n_layers + 1:
                raise ValueError(
                    f"point_grids must hold one grid per crop layer, crop_n_layers + 1 ="
                    f" {crop_n_layers + 1}, got {len(point_grids)}"
                )

        self.predictor = SamPredictor(model)
        self.point_grids = point_grids
        self.points_per_batch = points_per_batch
        self.pred_iou_thresh = pred_iou_thresh
        self.stability_score_thresh = stability_score_thresh
        self.stability_score_offset = stability_score_offset
        self.box_nms_thresh = box_nms_thresh
        self.crop_n_layers = crop_n_layers
        self.crop_nms_thresh = crop_nms_thresh
        self.crop_overlap_ratio = crop_overlap_ratio
        self.crop_n_points_downscale_factor = crop_n_points_downscale_factor
        self.min_mask_region_area = min_mask_region_area
        self.output_mode = output_mode

    @torch.no_grad()
    def generate(self, image: np.ndarray) -> list[dict[str, Any]]:
        """Masks for everything in an H x W x 3 uint8 RGB image: a list of records (see the
        class)."""
        check_image(image)
        image_size = image.shape[:2]
        candidates = self._generate_masks(image)
        masks = [candidates.mask(i, image_size) for i in range(len(candidates))]

        # Remove small holes and islands, then duplicates this made
        if self.min_mask_region_area > 0 and masks:
            candidates, masks = self._remove_small_regions(candidates, masks)

        records = []
        for i, mask in enumerate(masks):
            segmentation = mask if self.output_mode == "binary_mask" else mask_to_rle(mask)
            records.append(
                {
                    "segmentation": segmentation,
                    "area": int(mask.sum()),
                    "bbox": box_xyxy_to_xywh(candidates.boxes[i]),
                    "predicted_iou": candidates.iou_preds[i].item(),
                    "point_coords": [candidates.points[i].tolist()],
                    "stability_score": candidates.stability_score[i].item(),
                    "crop_box": box_xyxy_to_xywh(candidates.crop_boxes[i]),
                }
            )
        return records

    def _generate_masks(self, image: np.ndarray) -> _Candidates:
        h, w = image.shape[:2]
        crop_boxes, layers = generate_crop_boxes(
            (h, w), self.crop_n_layers, self.crop_overlap_ratio
        )
        candidates = _Candidates.concatenate(
            [
                self._process_crop(image, crop_box, layer)
                for crop_box, layer in zip(crop_boxes, layers, strict=True)
            ]
        )

        # Duplicates between crops: the mask from the smaller crop wins
        if len(crop_boxes) > 1:
            keep = box_nms(
                candidates.boxes, 1 / box_area(candidates.crop_boxes), self.crop_nms_thresh
            )
            candidates = candidates.select(keep)
        return candidates

    def _process_crop(self, image: np.ndarray, crop_box: list[int], layer: int) -> _Candidates:
        x0, y0, x1, y1 = crop_box
        crop = image[y0:y1, x0:x1]
        crop_size = crop.shape[:2]
        self.predictor.set_image(crop)

        # The layer's grid, from [0, 1]^2 to the crop's pixels
        points = self.point_grids[layer] * np.array(crop_size)[::-1]

        batches = []
        for start in range(0, len(points), self.points_per_batch):
            batch_points = points[start : start + self.points_per_batch]
            batches.append(self._process_batch(batch_points, crop_box, image.shape[:2]))
        self.predictor.reset_image()
        candidates = _Candidates.concatenate(batches)

        # Duplicates within the crop: the better predicted IoU wins
        keep = box_nms(candidates.boxes, candidates.iou_preds, self.box_nms_thresh)
        return candidates.select(keep)

    def _process_batch(
        self, points: np.ndarray, crop_box: list[int], image_size: tuple[int, int]
    ) -> _Candidates:
        crop_h, crop_w = crop_box[3] - crop_box[1], crop_box[2] - crop_box[0]
        offset = torch.tensor(crop_box[:2])

        # Three masks per point. Prompts go into the predictor's 1024 frame in float64 as the
        # official code does (its predictor passes them on without a cast).
        resized_h, resized_w = resized_shape(
            (crop_h, crop_w), self.predictor.model.image_encoder.img_size
        )
        scale = np.array([resized_w / crop_w, resized_h / crop_h])
        coords = torch.as_tensor(points * scale, device=self.predictor.device)[:, None, :]
        labels = torch.ones(coords.shape[:2], dtype=torch.int, device=coords.device)
        logits, iou_preds, _ = self.predictor.predict_torch(
            coords, labels, multimask_output=True, return_logits=True
        )
        logits, iou_preds = logits.flatten(0, 1).cpu(), iou_preds.flatten(0, 1).cpu()
        prompts = torch.as_tensor(points).repeat_interleave(3, dim=0)  # mask i from point i // 3

        # Filter by the IoU head's prediction
        if self.pred_iou_thresh > 0:
            keep = iou_preds > self.pred_iou_thresh
            logits, iou_preds, prompts = _rows(keep, logits, iou_preds, prompts)

        # Filter by the stability score
        mask_threshold = self.predictor.model.mask_threshold
        stability = stability_score(logits, mask_threshold, self.stability_score_offset)
        if self.stability_score_thresh > 0:
            keep = stability >= self.stability_score_thresh
            logits, iou_preds, prompts, stability = _rows(
                keep, logits, iou_preds, prompts, stability
            )

        # Binary masks and their boxes, in the image's frame
        masks = logits > mask_threshold
        del logits
        boxes = masks_to_boxes(masks) + offset.repeat(2)

        # Drop masks cut off by the crop's inner edges
        keep = ~is_box_near_crop_edge(boxes, crop_box, [0, 0, image_size[1], image_size[0]])
        masks, boxes, iou_preds, prompts, stability = _rows(
            keep, masks, boxes, iou_preds, prompts, stability
        )
        return _Candidates(
            packed_masks=np.packbits(masks.flatten(1).numpy(), axis=1),
            iou_preds=iou_preds,
            stability_score=stability,
            points=prompts + offset,
            boxes=boxes,
            crop_boxes=torch.tensor([crop_box] * len(boxes), dtype=torch.int64).reshape(-1, 4),
        )

    def _remove_small_regions(
        self, candidates: _Candidates, masks: list[np.ndarray]
    ) -> tuple[_Candidates, list[np.ndarray]]:
        cleaned, unchanged = [], []
        for mask in masks:
            mask, holes_filled = remove_small_regions(mask, self.min_mask_region_area, "holes")
            mask, islands_removed = remove_small_regions(mask, self.min_mask_region_area, "islands")
            cleaned.append(mask)
            unchanged.append(not (holes_filled or islands_removed))

        # New duplicates: a mask left as it was wins over one that needed cleaning
        boxes = masks_to_boxes(torch.as_tensor(np.stack(cleaned)))
        keep = box_nms(
            boxes,
            torch.tensor(unchanged, dtype=torch.float),
            max(self.box_nms_thresh, self.crop_nms_thresh),
        )
        candidates = candidates.select(keep)
        candidates.boxes = boxes[keep]
        return candidates, [cleaned[i] for i in keep.tolist()]


def _rows(keep: Tensor, *tensors: Tensor) -> tuple[Tensor, ...]:
    return tuple(tensor[keep] for tensor in tensors)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _check_fraction(name: str, value: object, upper_inclusive: bool = True) -> None:
    inside = _is_number(value) and value >= 0 and (value <= 1 if upper_inclusive else value < 1)
    if not inside:
        interval = "[0, 1]" if upper_inclusive else "[0, 1)"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")


def _check_int(name: str, value: object, least: int) -> None:
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")


def _check_point_grid(index: int, grid: object) -> np.ndarray:
    grid = np.asarray(grid, dtype=np.float64) if isinstance(grid, np.ndarray | list) else grid
    if not isinstance(grid, np.ndarray) or grid.ndim != 2 or grid.shape[1] != 2:
        shape = getattr(grid, "shape", type(grid).__name__)
        raise ValueError(f"point_grids[{index}] must be an N x 2 array of (x, y), got {shape}")
    if len(grid) == 0 or not ((grid >= 0) & (grid <= 1)).all():
        raise ValueError(f"point_grids[{index}] must hold at least one point, normalised to [0, 1]")
    return grid
