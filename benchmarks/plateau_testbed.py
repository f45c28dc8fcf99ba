"""Does a training configuration leave the "objectness" plateau, and when? A cheap test bed.

Every early run of `python -m samdec train` stalled on the same plateau: the decoder learnt where
objects are and ignored the prompt. This script runs the shipped recipe (`training_step`, a new
scene per step) on a fresh model at a small input, 256 x 256 (a 16 x 16 grid, whole scenes drawn
at a quarter of their size), where a step costs a fraction of a 512 step, and prints every 100 steps
the mean IoU of the first prompt's masks over the last 50 such steps, and the mean loss. A run has
taken off when that mIoU leaves zero; a prompt-blind model stays near it.

The README's comparison of learning rates used whole objects only, points and boxes, no
corrective clicks, one thread:

    python benchmarks/plateau_testbed.py --learning-rate 2e-4 --level-odds 1 0 0 --max-clicks 0

The learning rate warms up over 100 steps and then stays constant (no decay), so that runs of
different lengths are comparable step for step.
"""

import argparse
import time

import numpy as np
import torch

from samdec.sam import build_sam
from samdec.training.config import TrainConfig
from samdec.training.episode import make_example
from samdec.training.train import learn, set_image_size

IMAGE_SIZE = 256
REPORT_EVERY = 100


def main() -> None:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--max-clicks", type=int, default=defaults.max_clicks)
    parser.add_argument("--box-fraction", type=float, default=defaults.box_fraction)
    parser.add_argument("--level-odds", type=float, nargs=3, default=defaults.level_odds)
    parser.add_argument("--targets", type=int, default=defaults.targets_at_512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    config = TrainConfig(
        box_fraction=args.box_fraction,
        max_clicks=args.max_clicks,
        level_odds=tuple(args.level_odds),
        learning_rate=args.learning_rate,
    )
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as train() does: subnormal floats are slow on x86
    torch.manual_seed(args.seed)
    sam = build_sam()
    set_image_size(sam, IMAGE_SIZE)
    sam.train()
    optimizer = torch.optim.AdamW(
        sam.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )

    losses, first_prompt_ious, started = [], [], time.perf_counter()
    for step in range(args.steps):
        warmup = min(1.0, (step + 1) / config.warmup_steps)
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate * warmup
        # the scenes of the training run's first steps (its seed 0), whatever --seed
        example = make_example(
            seed=1_000_000 + step,
            img_size=IMAGE_SIZE,
            targets=args.targets,
            level_odds=config.level_odds,
            scale=IMAGE_SIZE / 1024,
        )
        result = learn(sam, optimizer, example, np.random.default_rng([args.seed, step, 2]), config)

        losses.append(result.loss.item())
        if result.clicks == 0:
            first_prompt_ious.append(result.result.trained_iou)
        if (step + 1) % REPORT_EVERY == 0:
            print(
                f"step {step + 1:5d}: first-prompt mIoU {np.mean(first_prompt_ious[-50:]):.3f},"
                f" loss {np.mean(losses[-50:]):.3f} (both over the last 50),"
                f" {time.perf_counter() - started:5.0f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
