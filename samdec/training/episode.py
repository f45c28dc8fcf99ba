"""One training example: a scene, several targets in it, and an interactive session per target.

The SAM paper trains each mask as a user would segment it: a first prompt (a point in the mask or
a box around it), then corrective clicks drawn from where the prediction is wrong, each round
feeding the previous round's mask logits back as the mask prompt. Everything here works in the
decoder's low-resolution frame (256 x 256 for a 1024 input: one cell is 4 x 4 input pixels).
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from samdec.prompt_encoder import FOREGROUND_LABEL
from samdec.sam import Sam
from samdec.training.clicks import corrective_click, noisy_box, point_inside
from samdec.training.config import LEVEL_ODDS
from samdec.world import RenderedScene, generate_scene

LOW_RES_SCALE = 4  # input pixels per low-resolution mask cell
MIN_TARGET_CELLS = 12  # smaller targets are too small to learn at the decoder's resolution
LEVELS = ("whole", "part", "subpart")


@dataclass
class Example:
    """A rendered scene at the encoder's input size and targets in the low-resolution frame."""

    image: np.ndarray  # h x w x 3 uint8, longest side img_size
    targets: np.ndarray  # K x S x S bool, S = img_size / 4, padded like the input


def candidate_targets(low_res: RenderedScene) -> dict[str, list[np.ndarray]]:
    """Every whole object, part and subpart mask large enough to learn, by level."""
    candidates = {level: [] for level in LEVELS}
    for o in np.unique(low_res.object_id[low_res.object_id >= 0]):
        whole = low_res.mask(o)
        candidates["whole"].append(whole)
        parts = np.unique(low_res.part_id[whole])
        for p in parts if len(parts) > 1 else []:
            candidates["part"].append(low_res.mask(o, p))
        for p in parts:
            for s in np.unique(low_res.subpart_id[whole & (low_res.part_id == p)]):
                if s >= 0:
                    candidates["subpart"].append(low_res.mask(o, p, s))
    return {
        level: [m for m in masks if m.sum() >= MIN_TARGET_CELLS]
        for level, masks in candidates.items()
    }


def make_example(
    seed: int,
    img_size: int,
    targets: int,
    style: str = "train",
    level_odds: tuple[float, float, float] = LEVEL_ODDS,
    scale: float = 1.0,
) -> Example:
    """A scene from world seed `seed` and `targets` masks in it, the level of each (whole, part,
    subpart) drawn with `level_odds`, renormalised over the levels the photo has. A level of
    odds 0 is never drawn; the photo must have a level of positive odds.

    Scenes are made for a 1024 input and drawn at `scale` (0.5 fits a whole scene in 512). When
    the drawing is larger than `img_size`, the example is a random img_size x img_size window of
    it: objects at the size they have at 1024, but fewer of them, and some cut by the window.
    """
    rng = np.random.default_rng([seed, 1])
    odds_of = dict(zip(LEVELS, level_odds, strict=True))
    scene = generate_scene(seed, style=style)
    full, low_res = scene.render(scale), scene.render(scale / LOW_RES_SCALE)
    drawn = full.object_id.shape
    h, w = (min(side, img_size) for side in drawn)
    for _ in range(100):  # a window with something in it
        top = LOW_RES_SCALE * rng.integers((drawn[0] - h) // LOW_RES_SCALE + 1)
        left = LOW_RES_SCALE * rng.integers((drawn[1] - w) // LOW_RES_SCALE + 1)
        window = low_res.crop(*(v // LOW_RES_SCALE for v in (top, left, h, w)))
        candidates = {
            level: masks
            for level, masks in candidate_targets(window).items()
            if masks and odds_of[level] > 0
        }
        if candidates:
            break
    else:
        raise ValueError(f"world seed {seed} has no target of these levels large enough to learn")
    image = full.crop(top, left, h, w).image
    levels = list(candidates)
    odds = np.array([odds_of[level] for level in levels])
    side = img_size // LOW_RES_SCALE
    chosen = np.zeros((targets, side, side), dtype=bool)
    for i in range(targets):
        level = levels[rng.choice(len(levels), p=odds / odds.sum())]
        mask = candidates[level][rng.integers(len(candidates[level]))]
        chosen[i, : mask.shape[0], : mask.shape[1]] = mask
    return Example(image, chosen)


def low_res_to_input(xy: tuple[int, int]) -> tuple[float, float]:
    """A low-resolution cell's centre in input pixels (the prompt encoder adds the 0.5 itself)."""
    return tuple(LOW_RES_SCALE * c + LOW_RES_SCALE / 2 - 0.5 for c in xy)


@dataclass
class Sessions:
    """A batch of K interactive sessions that started alike, with a box (`boxes` K x 4) or with a
    point, and have had the same number of clicks since (`coords` K x N x 2, `labels` K x N).
    Coordinates in input pixels; `mask_input` holds the previous round's K x 1 x S x S logits."""

    boxes: Tensor | None
    coords: Tensor | None
    labels: Tensor | None
    mask_input: Tensor | None = None

    @property
    def multimask(self) -> bool:
        """A lone point is ambiguous: it gets three masks. Anything more gets one."""
        return self.boxes is None and self.coords.shape[1] == 1


def start_sessions(targets: np.ndarray, num_boxes: int, rng: np.random.Generator):
    """The first prompts: a noisy box around each of the first `num_boxes` targets, a point drawn
    uniformly inside each other. Returns (box sessions, point sessions); either may be None."""
    box_sessions = point_sessions = None
    if num_boxes > 0:
        boxes = [noisy_box(t, rng) * LOW_RES_SCALE for t in targets[:num_boxes]]
        box_sessions = Sessions(torch.tensor(np.array(boxes), dtype=torch.float32), None, None)
    if num_boxes < len(targets):
        points = [low_res_to_input(point_inside(t, rng)) for t in targets[num_boxes:]]
        point_sessions = Sessions(
            boxes=None,
            coords=torch.tensor(points, dtype=torch.float32)[:, None],
            labels=torch.full((len(points), 1), FOREGROUND_LABEL, dtype=torch.int),
        )
    return box_sessions, point_sessions


def add_click(
    sessions: Sessions, kept_logits: Tensor, targets: np.ndarray, rng: np.random.Generator
) -> Sessions:
    """One corrective click per session, drawn from the error region of the mask it kept
    (`kept_logits`, K x S x S), whose logits become the next round's mask prompt."""
    predictions = (kept_logits > 0).numpy(force=True)
    clicks = [corrective_click(p, t, rng) for p, t in zip(predictions, targets, strict=True)]
    coords = torch.tensor([[low_res_to_input(xy)] for xy, _ in clicks], dtype=torch.float32)
    labels = torch.tensor([[label] for _, label in clicks], dtype=torch.int)
    if sessions.coords is not None:
        coords = torch.cat([sessions.coords, coords], dim=1)
        labels = torch.cat([sessions.labels, labels], dim=1)
    return Sessions(sessions.boxes, coords, labels, kept_logits.detach()[:, None])


def decode(sam: Sam, image_embedding: Tensor, groups: list[Sessions]) -> tuple[Tensor, Tensor]:
    """All four mask tokens' logits (K x 4 x S x S) and predicted IoUs (K x 4) for the groups'
    sessions, in order, on one image. The groups have as many prompt tokens each (a box is two
    corner tokens; a lone point is one, plus the padding token), so they share one decoder call."""
    sparse, dense = [], []
    for sessions in groups:
        points = None if sessions.coords is None else (sessions.coords, sessions.labels)
        s, d = sam.prompt_encoder(points=points, boxes=sessions.boxes, masks=sessions.mask_input)
        sparse.append(s)
        dense.append(d)
    return sam.mask_decoder.predict_masks(
        image_embeddings=image_embedding,
        image_pe=sam.prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=torch.cat(sparse),
        dense_prompt_embeddings=torch.cat(dense),
    )
