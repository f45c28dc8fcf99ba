"""Segment everything on held-out scenes of the world: which true masks the generator finds, how
many masks it gives, how long it takes; and a picture of its masks over one scene.

Scenes come from world seeds below 10^6, which training never draws, rendered at their own size
(longest side 1024). The ground truth, from the scene's label maps:

- whole objects: every object's visible pixels;
- parts: the visible parts of the objects that show more than one part (an object of one part is
  its own part, and is counted as a whole object only);
- subparts: every visible subpart.

Masks smaller than `MIN_AREA_FRACTION` of the image (0.1%, about 800 pixels of a 1024 x 768
photo) are left out. A true mask is recalled at IoU t if some generated mask has IoU >= t with it.
"""

import time
from pathlib import Path
from typing import Any

import numpy as np

from samdec.automatic_mask_generator import SamAutomaticMaskGenerator
from samdec.sam import Sam
from samdec.world import RenderedScene, generate_scene

LEVELS = ("whole", "part", "subpart")
LEVEL_NAMES = {"whole": "whole objects", "part": "parts", "subpart": "subparts"}
IOU_THRESHOLDS = (0.5, 0.75)
MIN_AREA_FRACTION = 0.001
PICTURE_SEED = 19  # the held-out scene of the README's picture: a dog among figures and shapes
PICTURE_SOFTWARE = "python -m samdec figures"


def ground_truth(rendered: RenderedScene, min_area: int) -> dict[str, np.ndarray]:
    """level -> K x H x W bool: the true masks of a scene (see the module's docstring)."""
    masks = {level: [] for level in LEVELS}
    for o in np.unique(rendered.object_id[rendered.object_id >= 0]):
        whole = rendered.mask(o)
        masks["whole"].append(whole)
        parts = np.unique(rendered.part_id[whole])
        if len(parts) > 1:
            masks["part"].extend(rendered.mask(o, p) for p in parts)
        for p in parts:
            part = rendered.mask(o, p)
            for s in np.unique(rendered.subpart_id[part & (rendered.subpart_id >= 0)]):
                masks["subpart"].append(rendered.mask(o, p, s))
    shape = rendered.object_id.shape
    return {
        level: np.array([m for m in found if m.sum() >= min_area], dtype=bool).reshape(-1, *shape)
        for level, found in masks.items()
    }


def best_ious(generated: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """For each target (K x H x W), its best IoU with any of the generated masks (N x H x W)."""
    best = np.zeros(len(targets))
    if len(generated) == 0:
        return best
    areas = generated.sum(axis=(1, 2))
    for k, target in enumerate(targets):
        # the intersection lies in the target's box: only that window of every mask is read
        rows, cols = np.flatnonzero(target.any(axis=1)), np.flatnonzero(target.any(axis=0))
        window = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        intersections = (generated[:, window[0], window[1]] & target[window]).sum(axis=(1, 2))
        best[k] = (intersections / (areas + target.sum() - intersections)).max()
    return best


def segment_everything_figures(
    sam: Sam,
    seeds,
    style: str = "train",
    points_per_side: int = 32,
    points_per_batch: int = 64,
    **generator_kwargs: Any,
) -> dict[str, Any]:
    """Recall of whole objects, parts and subparts at IoU 0.5 and 0.75, masks per image and
    seconds per image (the whole `generate` call, image encoding included), over the scenes of
    world `seeds` drawn in `style`, with the official defaults unless given otherwise.

    Returns {"recall": {level: {threshold: fraction}}, "counts": {level: true masks, "images": n},
    "masks_per_image": mean, "seconds_per_image": mean, "settings": {...}}."""
    generator = SamAutomaticMaskGenerator(
        sam,
        points_per_side=points_per_side,
        points_per_batch=points_per_batch,
        **generator_kwargs,
    )
    best = {level: [] for level in LEVELS}
    masks_per_image, seconds = [], []
    for seed in seeds:
        rendered = generate_scene(seed, style=style).render()
        start = time.perf_counter()
        records = generator.generate(rendered.image)
        seconds.append(time.perf_counter() - start)
        masks_per_image.append(len(records))

        generated = np.array([r["segmentation"] for r in records], dtype=bool)
        generated = generated.reshape(-1, *rendered.image.shape[:2])
        min_area = MIN_AREA_FRACTION * rendered.object_id.size
        for level, targets in ground_truth(rendered, min_area).items():
            best[level].extend(best_ious(generated, targets))

    recall = {
        level: {
            t: float(np.mean(np.array(ious) >= t)) if ious else float("nan") for t in IOU_THRESHOLDS
        }
        for level, ious in best.items()
    }
    return {
        "recall": recall,
        "counts": {**{level: len(ious) for level, ious in best.items()}, "images": len(seconds)},
        "masks_per_image": float(np.mean(masks_per_image)),
        "seconds_per_image": float(np.mean(seconds)),
        "settings": {
            "style": style,
            "points_per_side": points_per_side,
            "points_per_batch": points_per_batch,
            **generator_kwargs,
        },
    }


def format_segment_everything(figures: dict[str, Any]) -> str:
    """A markdown table of `segment_everything_figures`, and a line with the rest."""
    header = " | ".join(f"recall @ IoU {t}" for t in IOU_THRESHOLDS)
    lines = [
        f"| true masks | count | {header} |",
        "| --- | ---: | " + " | ".join("---:" for _ in IOU_THRESHOLDS) + " |",
    ]
    for level in LEVELS:
        recalls = " | ".join(f"{figures['recall'][level][t]:.3f}" for t in IOU_THRESHOLDS)
        lines.append(f"| {LEVEL_NAMES[level]} | {figures['counts'][level]} | {recalls} |")
    settings = figures["settings"]
    grid = settings["points_per_side"]
    lines.append(
        f"\n{figures['masks_per_image']:.1f} masks and {figures['seconds_per_image']:.1f} s per"
        f" image ({grid} x {grid} points, {settings['points_per_batch']} per batch;"
        f" {figures['counts']['images']} scenes of the {settings['style']} look; true masks under"
        f" {MIN_AREA_FRACTION:.1%} of the image left out)."
    )
    return "\n".join(lines)


# --- the picture ---------------------------------------------------------------------------------


def segment_everything_picture(image: np.ndarray, records: list[dict], title: str = "the photo"):
    """A matplotlib Figure: the photo, and the photo under every mask in its own colour (largest
    drawn first, so small masks stay visible), titled with the number of masks."""
    from matplotlib.figure import Figure

    h, w = image.shape[:2]
    figure = Figure(figsize=(10, 10 * h / (2 * w) + 0.6), dpi=100, layout="constrained")
    left, right = figure.subplots(1, 2)
    left.imshow(image)
    left.set_title(title)

    overlay = image.astype(np.float32) / 255
    colours = np.random.default_rng(0).uniform(0.1, 1.0, (len(records), 3))
    by_area = sorted(range(len(records)), key=lambda i: -records[i]["area"])
    for rank, i in enumerate(by_area):
        mask = records[i]["segmentation"]
        overlay[mask] = 0.35 * overlay[mask] + 0.65 * colours[rank]
    right.imshow(overlay)
    right.set_title(f"{len(records)} mask{'' if len(records) == 1 else 's'}")
    for axes in (left, right):
        axes.set_axis_off()
    return figure


def draw_segment_everything(
    sam: Sam,
    path: str | Path,
    seed: int = PICTURE_SEED,
    style: str = "train",
    scale: float = 1.0,
    **generator_kwargs: Any,
) -> list[dict]:
    """Segment everything in the held-out scene of world `seed` rendered at `scale` (1: longest
    side 1024) with the official defaults unless given, draw `segment_everything_picture` to the
    PNG `path`, and return the masks drawn. The same model and arguments give the same bytes."""
    rendered = generate_scene(seed, style=style).render(scale)
    records = SamAutomaticMaskGenerator(sam, **generator_kwargs).generate(rendered.image)
    figure = segment_everything_picture(rendered.image, records, f"held-out scene {seed}")
    figure.savefig(path, format="png", metadata={"Software": PICTURE_SOFTWARE})
    return records
