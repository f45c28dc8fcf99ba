"""How well the trained model segments held-out scenes of the world, prompt by prompt.

Scenes come from world seeds below 10^6, which training never draws. Every figure is a mean IoU
at the photo's own resolution, through `SamPredictor` as a user would call it:

- one point drawn uniformly inside an object: the best of the three masks, and the mask the IoU
  head ranks first, each against the whole object;
- one point on a subpart: for the subpart, its part and the whole object, the best IoU among the
  three masks (is each level covered by one of them?);
- the object's box, single mask;
- 1, 3 and 5 clicks: an interactive session as in training: the first point's most confident
  mask, then corrective clicks from the error region, each with the previous low-resolution
  logits fed back as `mask_input`, single mask;
- Pearson's r between the IoU head's predictions and the actual IoUs (all three masks of the
  one-point prompts).
"""

from dataclasses import dataclass, field

import numpy as np
import torch

from samdec.predictor import SamPredictor
from samdec.sam import Sam
from samdec.training.clicks import corrective_click, point_inside
from samdec.transforms import transform_boxes, transform_coords
from samdec.world import generate_scene

MIN_OBJECT_PIXELS = 1500  # smaller objects are not evaluated (about 40 x 40 pixels)
MIN_SUBPART_PIXELS = 300
OBJECTS_PER_SCENE = 4
CLICKS = (1, 3, 5)


@dataclass
class Figures:
    """Per-prompt IoUs, collected over scenes; `summary()` gives the means."""

    point_best: list[float] = field(default_factory=list)
    point_pick: list[float] = field(default_factory=list)
    subpart: dict[str, list[float]] = field(
        default_factory=lambda: {"subpart": [], "part": [], "whole": []}
    )
    box: list[float] = field(default_factory=list)
    clicks: dict[int, list[float]] = field(default_factory=lambda: {k: [] for k in CLICKS})
    predicted_iou: list[float] = field(default_factory=list)
    actual_iou: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        rows = {
            "one point, best of 3, mIoU": np.mean(self.point_best),
            "one point, IoU head's pick, mIoU": np.mean(self.point_pick),
            **{f"subpart point: {k} covered, mIoU": np.mean(v) for k, v in self.subpart.items()},
            "box, mIoU": np.mean(self.box),
            **{
                f"{k} click{'s' if k > 1 else ''}, mIoU": np.mean(v) for k, v in self.clicks.items()
            },
            "IoU head, Pearson r": float(np.corrcoef(self.predicted_iou, self.actual_iou)[0, 1]),
        }
        return {name: float(value) for name, value in rows.items()}

    @property
    def counts(self) -> dict[str, int]:
        return {"objects": len(self.point_best), "subparts": len(self.subpart["subpart"])}


def iou(masks: np.ndarray, target: np.ndarray) -> np.ndarray:
    """IoU of each of the masks (... x H x W) with one target (H x W)."""
    intersection = (masks & target).sum(axis=(-2, -1))
    union = (masks | target).sum(axis=(-2, -1))
    return intersection / np.maximum(union, 1)


def evaluate(sam: Sam, seeds: range, style: str = "train") -> Figures:
    """All figures over the scenes of world seeds `seeds` drawn in `style`."""
    predictor = SamPredictor(sam)
    figures = Figures()
    for seed in seeds:
        rendered = generate_scene(seed, style=style).render()
        rng = np.random.default_rng([seed, 7])
        objects = [o for o in np.unique(rendered.object_id) if o >= 0]
        objects = [o for o in objects if rendered.mask(o).sum() >= MIN_OBJECT_PIXELS]
        if not objects:
            continue
        objects = rng.permutation(objects)[:OBJECTS_PER_SCENE]
        wholes = np.stack([rendered.mask(o) for o in objects])
        predictor.set_image(rendered.image)
        _points_and_boxes(predictor, wholes, rng, figures)
        _subpart_points(predictor, rendered, objects, rng, figures)
        _clicks(predictor, wholes, rng, figures)
    return figures


def _predict(predictor: SamPredictor, coords=None, labels=None, boxes=None, mask_input=None,
             multimask=True):  # fmt: skip
    """Batched prediction with prompts in original pixels; numpy masks, scores, low-res logits."""
    size = predictor.original_size
    if coords is not None:
        coords = transform_coords(torch.as_tensor(coords, dtype=torch.float32), size)
        labels = torch.as_tensor(labels, dtype=torch.int)
    if boxes is not None:
        boxes = transform_boxes(torch.as_tensor(boxes, dtype=torch.float32), size)
    masks, scores, low_res = predictor.predict_torch(
        coords, labels, boxes, mask_input, multimask_output=multimask
    )
    return masks.numpy(), scores.numpy(), low_res


def _points_and_boxes(predictor, wholes: np.ndarray, rng, figures: Figures) -> None:
    points = np.array([[point_inside(w, rng)] for w in wholes])
    masks, scores, _ = _predict(predictor, points, np.ones(points.shape[:2]))
    for target, object_masks, object_scores in zip(wholes, masks, scores, strict=True):
        ious = iou(object_masks, target)
        figures.point_best.append(ious.max())
        figures.point_pick.append(ious[object_scores.argmax()])
        figures.predicted_iou.extend(object_scores)
        figures.actual_iou.extend(ious)

    boxes = []
    for whole in wholes:
        ys, xs = np.nonzero(whole)
        boxes.append([xs.min(), ys.min(), xs.max(), ys.max()])
    masks, _, _ = _predict(predictor, boxes=np.array(boxes), multimask=False)
    figures.box.extend(iou(m[0], t) for m, t in zip(masks, wholes, strict=True))


def _subpart_points(predictor, rendered, objects, rng, figures: Figures) -> None:
    """One point on one subpart of each object that has one large enough."""
    levels = []
    for o in objects:
        whole = rendered.mask(o)
        on_subparts = rendered.subpart_id[whole] >= 0
        pairs = set(zip(rendered.part_id[whole][on_subparts],
                        rendered.subpart_id[whole][on_subparts], strict=True))  # fmt: skip
        subparts = [rendered.mask(o, p, s) for p, s in sorted(pairs)]
        subparts = [m for m in subparts if m.sum() >= MIN_SUBPART_PIXELS]
        if subparts:
            x, y = point_inside(subparts[rng.integers(len(subparts))], rng)
            whole_mask, part_mask, subpart_mask = rendered.hierarchy_at(x, y)
            levels.append(((x, y), {"subpart": subpart_mask, "part": part_mask,
                                    "whole": whole_mask}))  # fmt: skip
    if not levels:
        return
    points = np.array([[xy] for xy, _ in levels])
    masks, _, _ = _predict(predictor, points, np.ones(points.shape[:2]))
    for (_, targets), three in zip(levels, masks, strict=True):
        for level, target in targets.items():
            figures.subpart[level].append(iou(three, target).max())


def _clicks(predictor, wholes: np.ndarray, rng, figures: Figures) -> None:
    """Interactive sessions on every object: up to max(CLICKS) clicks each."""
    coords = np.array([[point_inside(w, rng)] for w in wholes])
    labels = np.ones(coords.shape[:2])
    masks, scores, low_res = _predict(predictor, coords, labels)
    # the first point is ambiguous: keep its most confident mask, as an interactive tool does
    kept = scores.argmax(axis=1)
    rows = np.arange(len(wholes))
    masks, low_res = masks[rows, kept], low_res[rows, kept]
    for click in range(1, max(CLICKS) + 1):
        if click in CLICKS:
            figures.clicks[click].extend(iou(m, t) for m, t in zip(masks, wholes, strict=True))
        if click == max(CLICKS):
            break
        new = [corrective_click(m, t, rng) for m, t in zip(masks, wholes, strict=True)]
        coords = np.concatenate([coords, [[xy] for xy, _ in new]], axis=1)
        labels = np.concatenate([labels, [[label] for _, label in new]], axis=1)
        masks, _, low_res = _predict(
            predictor, coords, labels, mask_input=low_res[:, None], multimask=False
        )
        masks, low_res = masks[:, 0], low_res[:, 0]
