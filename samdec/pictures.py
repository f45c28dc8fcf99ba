"""Pictures of what the trained model does, for the README: drawn by `python -m samdec figures`.

Unlike the structure diagrams, these come from the model's outputs, so they are redrawn with the
weights rather than checked byte for byte; what each one claims is checked in the tests.
"""

from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from samdec.diagrams.files import METADATA, STYLE
from samdec.example import BOX, POINT_COORDS, POINT_LABELS, example_photo
from samdec.predictor import SamPredictor
from samdec.sam import Sam

MASK_COLOUR = np.array([30, 144, 255]) / 255
PICTURE_DPI = 80


@dataclass
class ExampleMasks:
    """The running example's prompts and what the model answers: three masks for the point
    alone, one for the box."""

    image: np.ndarray
    point_masks: np.ndarray  # 3 x H x W
    point_scores: np.ndarray  # 3
    box_mask: np.ndarray  # H x W
    box_score: float


def example_masks(sam: Sam) -> ExampleMasks:
    image = example_photo().image
    predictor = SamPredictor(sam)
    predictor.set_image(image)
    point_masks, point_scores, _ = predictor.predict(
        point_coords=np.array(POINT_COORDS), point_labels=np.array(POINT_LABELS)
    )
    box_masks, box_scores, _ = predictor.predict(box=np.array(BOX), multimask_output=False)
    return ExampleMasks(image, point_masks, point_scores, box_masks[0], float(box_scores[0]))


def overlay(image: np.ndarray, mask: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """The image with the mask painted over it in the masks' colour."""
    painted = image / 255.0
    painted[mask] = (1 - alpha) * painted[mask] + alpha * MASK_COLOUR
    return painted


def draw_example_masks(masks: ExampleMasks) -> Figure:
    """Four panels: the point's three masks with their predicted IoU, then the box's mask."""
    figure, axes = plt.subplots(1, 4, figsize=(16, 3.4), layout="constrained")
    (x, y), (x0, y0, x1, y1) = POINT_COORDS[0], BOX[0]
    for i, ax in enumerate(axes[:3]):
        ax.imshow(overlay(masks.image, masks.point_masks[i]))
        # imshow centres pixel i at i; SAM reads coordinate c as the centre of pixel c (c + 0.5)
        ax.plot(x, y, marker="*", markersize=16, color="lime", markeredgecolor="black")
        ax.set_title(f"point, mask {i + 1}: predicted IoU {masks.point_scores[i]:.2f}")
    axes[3].imshow(overlay(masks.image, masks.box_mask))
    axes[3].add_patch(
        plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, color="lime", lw=2)
    )
    axes[3].set_title(f"box, single mask: predicted IoU {masks.box_score:.2f}")
    for ax in axes:
        ax.set_axis_off()
    figure.suptitle(
        "The trained model on the running example: the point (1300, 800) is ambiguous"
        " (body or dog), the box is not"
    )
    return figure


def write_pictures(directory: Path, sam: Sam) -> list[Path]:
    """Draws every picture of the trained model into `directory` as PNG: the running example's
    masks, segment-everything on a held-out scene, and the explorer after a click. Returns the
    paths."""
    # imported here: each pulls in its own machinery (the generator, the widget)
    from samdec.evaluation.segment_everything import draw_segment_everything
    from samdec.explorer import draw_explorer_snapshot

    paths = [directory / name for name in ("example_masks.png", "segment_everything.png",
                                           "explorer.png")]  # fmt: skip
    with matplotlib.rc_context(STYLE):
        figure = draw_example_masks(example_masks(sam))
        figure.savefig(paths[0], dpi=PICTURE_DPI, metadata=METADATA["png"])
        plt.close(figure)
    draw_segment_everything(sam, paths[1])
    draw_explorer_snapshot(sam, paths[2], image=example_photo().image)
    return paths
