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
from samdec.example import BOX, POINT_COORDS, POINT_LABELS, example_object_mask, example_photo
from samdec.predictor import SamPredictor
from samdec.sam import Sam

MASK_COLOUR = np.array([30, 144, 255]) / 255
PICTURE_DPI = 80


@dataclass
class ExampleMasks:
    """The running example's prompts and what the model answers: three masks for the point
    alone, one for the box."""

    image: np.ndarray
    point_logits: np.ndarray  # 3 x H x W, at the photo's size
    point_scores: np.ndarray  # 3
    box_logits: np.ndarray  # H x W
    box_score: float

    @property
    def point_masks(self) -> np.ndarray:
        return self.point_logits > 0  # SamPredictor's mask threshold

    @property
    def box_mask(self) -> np.ndarray:
        return self.box_logits > 0


def example_masks(sam: Sam) -> ExampleMasks:
    image = example_photo().image
    predictor = SamPredictor(sam)
    predictor.set_image(image)
    point_logits, point_scores, _ = predictor.predict(
        point_coords=np.array(POINT_COORDS), point_labels=np.array(POINT_LABELS), return_logits=True
    )
    box_logits, box_scores, _ = predictor.predict(
        box=np.array(BOX), multimask_output=False, return_logits=True
    )
    return ExampleMasks(image, point_logits, point_scores, box_logits[0], float(box_scores[0]))


def overlay(image: np.ndarray, mask: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """The image with the mask painted over it in the masks' colour."""
    painted = image / 255.0
    painted[mask] = (1 - alpha) * painted[mask] + alpha * MASK_COLOUR
    return painted


def draw_example_masks(masks: ExampleMasks) -> Figure:
    """Two rows of four panels: the point's three masks and the box's mask over the photo (logits
    above 0), and below each its logits, with the dog's outline. Titles give the IoU the head
    predicts and the IoU the mask really has with the dog."""
    figure, axes = plt.subplots(2, 4, figsize=(16, 6.4), layout="constrained")
    (x, y), (x0, y0, x1, y1) = POINT_COORDS[0], BOX[0]
    dog = example_object_mask()
    panels = [(f"point, mask {i + 1}", m, s) for i, (m, s) in
              enumerate(zip(masks.point_logits, masks.point_scores, strict=True))]  # fmt: skip
    panels.append(("box, single mask", masks.box_logits, masks.box_score))
    for column, (name, logits, score) in enumerate(panels):
        mask = logits > 0
        iou = (mask & dog).sum() / (mask | dog).sum()
        top, bottom = axes[:, column]
        top.imshow(overlay(masks.image, mask))
        top.set_title(f"{name}\npredicted IoU {score:.2f}, IoU with the dog {iou:.2f}")
        shown = bottom.imshow(logits, cmap="RdBu_r", vmin=-8, vmax=8)
        bottom.contour(dog, levels=[0.5], colors="black", linewidths=0.8)
        bottom.set_title("logits (the mask is > 0); black: the dog")
        for ax in (top, bottom):
            ax.set_axis_off()
            # imshow centres pixel i at i, and SAM reads a coordinate c as the centre of pixel c
            # (it adds the 0.5 itself): prompts are drawn where they are given
            if column < 3:
                ax.plot(x, y, marker="*", markersize=14, color="lime", markeredgecolor="black")
            else:
                ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="lime"))
    figure.colorbar(shown, ax=axes[1, :], shrink=0.8, label="mask logit")
    figure.suptitle("The shipped model on the running example (blue: the predicted mask)")
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
