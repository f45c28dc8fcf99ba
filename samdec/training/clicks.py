"""Simulated prompts, as in the SAM paper's interactive training: a first point or a noisy box,
then corrective clicks sampled from the error region of the previous prediction."""

import numpy as np

from samdec.prompt_encoder import BACKGROUND_LABEL, FOREGROUND_LABEL


def point_inside(mask: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """A pixel (x, y) drawn uniformly from the mask's pixels."""
    ys, xs = np.nonzero(mask)
    i = rng.integers(len(xs))
    return int(xs[i]), int(ys[i])


def noisy_box(mask: np.ndarray, rng: np.random.Generator, max_noise: float = 20.0) -> np.ndarray:
    """The mask's box (x0, y0, x1, y1), each coordinate moved by noise of standard deviation 10%
    of the box's side, at most `max_noise` pixels (the paper's box jitter)."""
    ys, xs = np.nonzero(mask)
    box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float64)
    sides = np.array([box[2] - box[0], box[3] - box[1]] * 2)
    noise = rng.normal(0, 1, 4) * np.minimum(0.1 * sides, max_noise)
    h, w = mask.shape
    return np.clip(box + noise, 0, [w, h, w, h])


def corrective_click(
    prediction: np.ndarray, target: np.ndarray, rng: np.random.Generator
) -> tuple[tuple[int, int], int]:
    """The next click: a pixel drawn uniformly from the error region between the prediction and
    the target, foreground where the prediction missed the target (a false negative), background
    where it spilled over it (a false positive). Returns ((x, y), label)."""
    false_negative = target & ~prediction
    false_positive = prediction & ~target
    errors = false_negative | false_positive
    if not errors.any():  # already perfect: click the target again
        return point_inside(target, rng), FOREGROUND_LABEL
    x, y = point_inside(errors, rng)
    return (x, y), FOREGROUND_LABEL if false_negative[y, x] else BACKGROUND_LABEL
