"""The SAM paper's losses: focal and dice on the mask logits (20:1), MSE on the IoU head."""

import torch
from jaxtyping import Bool, Float
from torch import Tensor

from samdec.contracts import shape_checked

FOCAL_WEIGHT, DICE_WEIGHT = 20.0, 1.0


@shape_checked
def sigmoid_focal_loss(
    logits: Float[Tensor, "*masks H W"],
    targets: Bool[Tensor, "*masks H W"],
    alpha: float = 0.25,
    gamma: float = 2.0,
) -> Float[Tensor, "*masks"]:
    """Per-pixel binary cross-entropy, scaled by (1 - p_t)^gamma so that pixels already right
    count little, and by alpha (foreground) or 1 - alpha (background); mean over the pixels."""
    targets = targets.float()
    p = torch.sigmoid(logits)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
    return (alpha_t * (1 - p_t) ** gamma * bce).mean(dim=(-2, -1))


@shape_checked
def dice_loss(
    logits: Float[Tensor, "*masks H W"], targets: Bool[Tensor, "*masks H W"]
) -> Float[Tensor, "*masks"]:
    """1 - the soft Dice coefficient of sigmoid(logits) and the target; +1 smooths empty masks."""
    p = torch.sigmoid(logits).flatten(-2)
    t = targets.float().flatten(-2)
    return 1 - (2 * (p * t).sum(-1) + 1) / (p.sum(-1) + t.sum(-1) + 1)


@shape_checked
def mask_iou(
    masks: Bool[Tensor, "*masks H W"], targets: Bool[Tensor, "*masks H W"]
) -> Float[Tensor, "*masks"]:
    """Intersection over union of binary masks; 1 where both are empty."""
    intersection = (masks & targets).flatten(-2).sum(-1).float()
    union = (masks | targets).flatten(-2).sum(-1).float()
    return torch.where(union > 0, intersection / union.clamp(min=1), torch.ones_like(union))


@shape_checked
def mask_loss(
    logits: Float[Tensor, "B N_masks H W"], targets: Bool[Tensor, "B H W"]
) -> Float[Tensor, "B N_masks"]:
    """20 focal + 1 dice, for every output mask against its prompt's target."""
    targets = targets[:, None].expand_as(logits)
    return FOCAL_WEIGHT * sigmoid_focal_loss(logits, targets) + DICE_WEIGHT * dice_loss(
        logits, targets
    )


@shape_checked
def iou_head_loss_per_mask(
    logits: Float[Tensor, "B N_masks H W"],
    iou_predictions: Float[Tensor, "B N_masks"],
    targets: Bool[Tensor, "B H W"],
) -> Float[Tensor, "B N_masks"]:
    """Squared error between each mask's predicted IoU and its actual IoU with the target."""
    actual = mask_iou(logits.detach() > 0, targets[:, None].expand_as(logits))
    return (iou_predictions - actual) ** 2
