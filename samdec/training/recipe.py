"""One training step of the SAM paper's recipe, on one image and K simulated sessions.

- The mask loss is 20 focal : 1 dice on the low-resolution logits.
- A lone point is ambiguous, so it gets all three multimask outputs and only the one with the
  lowest loss backpropagates; a box, or points with clicks, trains the single-mask token 0.
- The IoU head learns, by mean squared error, the actual IoU of every mask it scores.
- After the first prompt come corrective clicks (`clicks` of them, drawn per step), each round
  feeding back the logits of the mask the session kept: for three masks, the one with the highest
  predicted IoU, as SAM's interactive loop does.

The paper backpropagates through all its 11 rounds. On a CPU that costs 11 decoder passes with
gradients per prompt; here each step learns from one round: the first prompt in half the steps,
the round after 1 to 4 corrective clicks in the others. The rounds before it only produce the
clicks and mask prompts, without gradients, which costs a third of a pass with them.
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from samdec.sam import Sam
from samdec.training.episode import Example, Sessions, add_click, decode, start_sessions
from samdec.training.losses import iou_head_loss_per_mask, mask_iou, mask_loss


@dataclass
class RoundResult:
    loss: Tensor  # scalar: mean over sessions of mask loss + IoU-head loss
    mask_loss: float
    iou_loss: float
    trained_iou: float  # mean IoU of the masks that received the gradient
    kept_logits: Tensor  # K x S x S: the mask each session keeps for the next round


def score_round(
    masks: Tensor, iou_predictions: Tensor, targets: Tensor, multimask: Tensor
) -> RoundResult:
    """Losses of one round: `masks` K x 4 x S x S (all mask tokens), `iou_predictions` K x 4,
    `targets` K x S x S, `multimask` K (bool: the session's prompt was a lone point)."""
    losses = mask_loss(masks, targets)  # K x 4
    iou_errors = iou_head_loss_per_mask(masks, iou_predictions, targets)  # K x 4
    rows = torch.arange(len(masks))

    # tokens 1-3 for a lone point, the lowest-loss one learns; token 0 for everything else
    best_of_three = 1 + losses[:, 1:].argmin(dim=1)
    trained = torch.where(multimask, best_of_three, torch.zeros_like(best_of_three))
    session_mask_loss = losses[rows, trained]
    session_iou_loss = torch.where(multimask, iou_errors[:, 1:].mean(dim=1), iou_errors[:, 0])

    most_confident = 1 + iou_predictions[:, 1:].argmax(dim=1)
    kept = torch.where(multimask, most_confident, torch.zeros_like(most_confident))
    trained_masks = masks[rows, trained].detach() > 0
    return RoundResult(
        loss=(session_mask_loss + session_iou_loss).mean(),
        mask_loss=session_mask_loss.mean().item(),
        iou_loss=session_iou_loss.mean().item(),
        trained_iou=mask_iou(trained_masks, targets).mean().item(),
        kept_logits=masks[rows, kept],
    )


@dataclass
class StepResult:
    loss: Tensor
    result: RoundResult  # of the round that learnt
    clicks: int  # corrective clicks before that round


def training_step(
    sam: Sam,
    example: Example,
    rng: np.random.Generator,
    box_fraction: float,
    max_clicks: int,
) -> StepResult:
    """The loss of one image's sessions (call `.backward()` on `result.loss`).

    Half the steps learn from the first prompt; the others from the round after 1 to
    `max_clicks` corrective clicks, which run before it without gradients.
    """
    image = torch.from_numpy(example.image).permute(2, 0, 1).float()
    image_embedding = sam.image_encoder(sam.preprocess(image)[None])
    targets = torch.from_numpy(example.targets)

    num_boxes = int(rng.binomial(len(targets), box_fraction))
    groups = [g for g in start_sessions(example.targets, num_boxes, rng) if g is not None]
    clicks = 0 if max_clicks == 0 or rng.uniform() < 0.5 else int(rng.integers(1, max_clicks + 1))

    for round_index in range(clicks + 1):
        learns = round_index == clicks
        with torch.set_grad_enabled(learns and torch.is_grad_enabled()):
            masks, iou_predictions = decode(sam, image_embedding, groups)
            multimask = torch.tensor([g.multimask for g in groups for _ in range(_size(g))])
            result = score_round(masks, iou_predictions, targets, multimask)
        if not learns:
            groups = _next_round(groups, result.kept_logits, example.targets, rng)
    return StepResult(result.loss, result, clicks)


def _size(sessions: Sessions) -> int:
    return len(sessions.boxes if sessions.boxes is not None else sessions.coords)


def _next_round(groups: list[Sessions], kept_logits: Tensor, targets: np.ndarray, rng):
    next_groups, start = [], 0
    for sessions in groups:
        end = start + _size(sessions)
        next_groups.append(add_click(sessions, kept_logits[start:end], targets[start:end], rng))
        start = end
    return next_groups
