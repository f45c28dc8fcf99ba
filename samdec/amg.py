"""The pieces of segment-everything (`SamAutomaticMaskGenerator`): the point grid, the crops, the
stability score, masks to boxes, box NMS, mask encodings, and the removal of small regions.

Boxes are XYXY of inclusive pixel indices, as the official code computes them: a mask covering
the single pixel (x, y) has the box (x, y, x, y), and in XYWH (x, y, 0, 0). torchvision is not
installable here, so NMS is written in torch; the small-region clean-up, which the official code
does with OpenCV, is a connected-components pass in numpy.
"""

import math

import numpy as np
import torch
from torch import Tensor

# --- where the prompts go ---------------------------------------------------------------------


def build_point_grid(n_per_side: int) -> np.ndarray:
    """The centres of an n x n grid of cells over [0, 1]^2, as (x, y), row by row (x fastest):
    (n*n) x 2."""
    centres = (np.arange(n_per_side) + 0.5) / n_per_side
    ys, xs = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=-1)


def build_layer_point_grids(n_per_side: int, n_layers: int, downscale: int) -> list[np.ndarray]:
    """One grid per crop layer: layer i has int(n_per_side / downscale**i) points per side."""
    return [build_point_grid(int(n_per_side / downscale**i)) for i in range(n_layers + 1)]


def generate_crop_boxes(
    image_size: tuple[int, int], n_layers: int, overlap_ratio: float
) -> tuple[list[list[int]], list[int]]:
    """The crops (x0, y0, x1, y1, end exclusive) and their layers: layer 0 is the whole image;
    layer i tiles it with 2**i x 2**i crops overlapping by `overlap_ratio` of the shorter side
    (scaled down as the crops shrink). Crops are listed column by column."""
    h, w = image_size
    boxes, layers = [[0, 0, w, h]], [0]
    for layer in range(1, n_layers + 1):
        per_side = 2**layer
        overlap = int(overlap_ratio * min(h, w) * 2 / per_side)
        crop_w = math.ceil((overlap * (per_side - 1) + w) / per_side)
        crop_h = math.ceil((overlap * (per_side - 1) + h) / per_side)
        for i in range(per_side):
            for j in range(per_side):
                x0, y0 = int((crop_w - overlap) * i), int((crop_h - overlap) * j)
                boxes.append([x0, y0, min(x0 + crop_w, w), min(y0 + crop_h, h)])
                layers.append(layer)
    return boxes, layers


# --- scoring and boxes ------------------------------------------------------------------------


def stability_score(logits: Tensor, mask_threshold: float, offset: float) -> Tensor:
    """IoU of the mask cut at `mask_threshold + offset` with the mask cut at `mask_threshold -
    offset`: near 1 when the logits cross the threshold steeply. The first mask lies inside the
    second, so the IoU is the ratio of their areas. ... x H x W logits -> ... scores (NaN for a
    mask empty at the lower cut)."""
    inner = (logits > mask_threshold + offset).sum(dim=(-2, -1))
    outer = (logits > mask_threshold - offset).sum(dim=(-2, -1))
    return inner / outer


def masks_to_boxes(masks: Tensor) -> Tensor:
    """N x H x W bool -> N x 4 (x0, y0, x1, y1) inclusive pixel indices, int64; an empty mask
    gets (0, 0, 0, 0)."""
    h, w = masks.shape[-2:]
    rows, cols = masks.any(dim=-1), masks.any(dim=-2)  # N x H, N x W

    def first(hits: Tensor) -> Tensor:
        return hits.to(torch.uint8).argmax(dim=-1)

    boxes = torch.stack(
        [first(cols), first(rows), w - 1 - first(cols.flip(-1)), h - 1 - first(rows.flip(-1))],
        dim=-1,
    )
    empty = ~rows.any(dim=-1)
    boxes[empty] = 0
    return boxes


def box_xyxy_to_xywh(box: list[int] | Tensor) -> list:
    """(x0, y0, x1, y1) -> [x0, y0, x1 - x0, y1 - y0]."""
    x0, y0, x1, y1 = (v.item() if isinstance(v, Tensor) else v for v in box)
    return [x0, y0, x1 - x0, y1 - y0]


def box_area(boxes: Tensor) -> Tensor:
    """(x1 - x0) * (y1 - y0) per box, as torchvision measures it."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """The IoU of every box of `a` (N x 4 XYXY) with every box of `b` (M x 4): N x M."""
    width = torch.minimum(a[:, None, 2], b[:, 2]) - torch.maximum(a[:, None, 0], b[:, 0])
    height = torch.minimum(a[:, None, 3], b[:, 3]) - torch.maximum(a[:, None, 1], b[:, 1])
    intersection = width.clamp(min=0) * height.clamp(min=0)
    return intersection / (box_area(a)[:, None] + box_area(b) - intersection)


def box_nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy non-maximum suppression: boxes in order of decreasing score (ties in input order);
    each one kept suppresses every later box whose IoU with it exceeds `iou_threshold`. Returns
    the indices of the kept boxes, best first. N x 4 XYXY boxes, N scores."""
    order = torch.sort(scores, descending=True, stable=True).indices
    boxes = boxes[order].float()
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    kept = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        kept.append(i)
        suppressed[i + 1 :] |= box_iou(boxes[i : i + 1], boxes[i + 1 :])[0] > iou_threshold
    return order[torch.tensor(kept, dtype=torch.long)]


def is_box_near_crop_edge(
    boxes: Tensor, crop_box: list[int], image_box: list[int], atol: float = 20.0
) -> Tensor:
    """N x 4 boxes (in the original frame) with a side within `atol` pixels of a crop edge that
    is not also an edge of the image: masks likely cut off by the crop."""
    boxes = boxes.float()
    crop = torch.tensor(crop_box, dtype=torch.float)
    image = torch.tensor(image_box, dtype=torch.float)
    near_crop_edge = (boxes - crop).abs() <= atol
    near_image_edge = (boxes - image).abs() <= atol
    return (near_crop_edge & ~near_image_edge).any(dim=1)


# --- mask encodings ---------------------------------------------------------------------------


def mask_to_rle(mask: np.ndarray) -> dict:
    """An H x W bool mask as an uncompressed RLE (COCO's layout): the lengths of alternating runs
    of False and True in column-major order, starting with False (a zero-length run when the first
    pixel is True). {"size": [H, W], "counts": [...]}"""
    h, w = mask.shape
    flat = mask.T.ravel()
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0, *counts]
    return {"size": [h, w], "counts": counts}


def rle_to_mask(rle: dict) -> np.ndarray:
    """The inverse of `mask_to_rle`."""
    h, w = rle["size"]
    values = np.arange(len(rle["counts"])) % 2 == 1
    return np.repeat(values, rle["counts"]).reshape(w, h).T


def area_from_rle(rle: dict) -> int:
    return int(sum(rle["counts"][1::2]))


# --- removing small regions and holes (the official code uses OpenCV) -------------------------


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The horizontal runs of True pixels: row, first column, end column (exclusive), in raster
    order."""
    edges = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)  # H x (W+1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)
    return rows, starts, ends


def connected_regions(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 8-connected regions of an H x W bool mask, numbered in raster order of their first
    pixel: an H x W int map (0 outside the mask, 1..n) and the n regions' sizes."""
    h, w = mask.shape
    rows, starts, ends = _runs(mask)
    if len(rows) == 0:
        return np.zeros((h, w), np.int64), np.zeros(0, np.int64)

    # Runs touch (8-connected) when they lie on adjacent rows and their column ranges, one
    # widened by a pixel each side, overlap. Runs in a row are sorted and disjoint, so the runs
    # of the row above touching run i are a contiguous range [lo, hi) found by binary search.
    stride = w + 2
    start_keys, end_keys = rows * stride + starts, rows * stride + ends
    above = (rows - 1) * stride
    lo = np.searchsorted(end_keys, above + starts, side="left")  # first with end >= start
    hi = np.searchsorted(start_keys, above + ends, side="right")  # past the last start <= end
    counts = np.maximum(hi - lo, 0)
    first = np.repeat(np.arange(len(rows)), counts)
    second = _concatenated_ranges(lo, counts)

    # Each run takes the smallest label among itself and the runs it touches, until nothing
    # changes; following labels to their own label (label[label]) spreads them faster.
    label = np.arange(len(rows))
    while True:
        lowest = np.minimum(label[first], label[second])
        new = label.copy()
        np.minimum.at(new, first, lowest)
        np.minimum.at(new, second, lowest)
        new = new[new]
        if np.array_equal(new, label):
            break
        label = new

    # Regions numbered 1..n in order of their first run (raster order)
    _, region_of_run = np.unique(label, return_inverse=True)
    sizes = np.bincount(region_of_run, weights=ends - starts).astype(np.int64)
    lengths = ends - starts
    regions = np.zeros(h * w, np.int64)
    regions[_concatenated_ranges(rows * w + starts, lengths)] = np.repeat(
        region_of_run + 1, lengths
    )
    return regions.reshape(h, w), sizes


def _concatenated_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """[starts[0], ..., starts[0] + lengths[0] - 1, starts[1], ...] without a Python loop."""
    offsets_in_range = np.arange(lengths.sum()) - np.repeat(lengths.cumsum() - lengths, lengths)
    return np.repeat(starts, lengths) + offsets_in_range


def remove_small_regions(
    mask: np.ndarray, area_thresh: float, mode: str
) -> tuple[np.ndarray, bool]:
    """`mode="holes"`: fill the regions outside the mask smaller than `area_thresh` pixels (holes,
    and small pieces of background cut off at the border). `mode="islands"`: remove the mask's
    regions smaller than that, keeping the largest if all are. Regions are 8-connected. Returns
    the mask and whether it changed."""
    if mode not in ("holes", "islands"):
        raise ValueError(f"mode must be 'holes' or 'islands', got {mode!r}")
    holes = mode == "holes"
    regions, sizes = connected_regions(~mask if holes else mask)
    small = np.flatnonzero(sizes < area_thresh) + 1
    if len(small) == 0:
        return mask, False
    if holes:
        return mask | np.isin(regions, small), True
    large = np.flatnonzero(sizes >= area_thresh) + 1
    if len(large) == 0:
        large = [int(np.argmax(sizes)) + 1]
    return np.isin(regions, large), True
