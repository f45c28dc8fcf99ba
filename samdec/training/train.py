"""The training run behind `samdec.load_pretrained()`: `python -m samdec train` (`make train`).

Two stages over one model, as SAM's exact configuration is too slow to train from scratch at full
size on a CPU: first the scenes drawn at half size into 512 x 512 (a 32 x 32 embedding grid, 4x
cheaper), then at 1024 (the 64 x 64 grid the model ships with). The weights do not depend on the
grid: the positional encoding is of normalised coordinates and every other layer is per token or
convolutional. The run goes through both stages `TrainConfig.cycles` times, the learning rate
restarting with each cycle.

The run checkpoints into its work directory and resumes from there when started again. The
shipped files are written only at the end, each to a temporary name and then renamed, so an
interrupted run leaves them intact.
"""

import csv
import os
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from samdec.pretrained import LOG_FILE, WEIGHTS_FILE, save_weights
from samdec.sam import Sam, build_sam
from samdec.training.config import TrainConfig
from samdec.training.episode import Example, make_example
from samdec.training.recipe import StepResult, training_step

LOG_COLUMNS = (
    "step", "image_size", "clicks", "loss", "mask_loss", "iou_loss", "trained_iou", "learning_rate",
    "seconds",
)  # fmt: skip


def set_image_size(sam: Sam, image_size: int) -> None:
    """Switch the model between the stages' input sizes: the image encoder's input, and the prompt
    encoder's frame, embedding grid and mask-prompt size. No weight changes."""
    grid = image_size // 16
    sam.image_encoder.img_size = image_size
    sam.prompt_encoder.input_image_size = (image_size, image_size)
    sam.prompt_encoder.image_embedding_size = (grid, grid)
    sam.prompt_encoder.mask_input_size = (4 * grid, 4 * grid)


def check_arguments(config: TrainConfig, out_dir: Path, work_dir: Path) -> None:
    """Fail now, not after an hour: the step counts, the cycles, the targets' level odds, the scene
    scale, and whether both directories can be written (they are created if missing)."""
    if config.steps_at_512 < 0 or config.steps_at_1024 < 0 or config.steps_per_cycle <= 0:
        raise ValueError(
            f"the number of steps must be positive, got {config.steps_at_512} at 512 and"
            f" {config.steps_at_1024} at 1024"
        )
    if config.cycles < 1:
        raise ValueError(f"the number of cycles must be at least 1, got {config.cycles}")
    if min(config.level_odds) < 0 or config.level_odds[0] <= 0:
        raise ValueError(
            f"the level odds (whole, part, subpart) must be >= 0, and > 0 for whole objects (every"
            f" scene has them), got {config.level_odds}"
        )
    if not 0 < config.scale_at_512 <= 1:
        raise ValueError(f"the scene scale at 512 must be in (0, 1], got {config.scale_at_512}")
    for directory in (out_dir, work_dir):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=directory):
                pass
        except OSError as error:
            raise OSError(f"cannot write to {directory}: {error.strerror}") from error


def train(
    config: TrainConfig,
    out_dir: Path,
    work_dir: Path,
    threads: int | None = None,
    progress: bool = True,
) -> Path:
    """Trains, checkpointing into `work_dir` every 50 steps (and resuming from it), then writes
    the weights and the CSV log into `out_dir`. Returns the weights' path."""
    check_arguments(config, out_dir, work_dir)
    if threads is not None:
        torch.set_num_threads(threads)
    # once the masks take off, some activations and gradients fall into float32's subnormal range,
    # which x86 CPUs compute many times slower: flushing them to zero made steps ~30% faster
    torch.set_flush_denormal(True)

    torch.manual_seed(config.seed)
    sam = build_sam()
    optimizer = torch.optim.AdamW(
        sam.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    log: list[dict] = []
    start_step = _resume(work_dir / "checkpoint.pt", config, sam, optimizer, log)
    sam.train()

    bar = tqdm(range(start_step, config.steps), initial=start_step, total=config.steps,
               disable=not progress, desc="training", unit="step")  # fmt: skip
    started = time.perf_counter() - (log[-1]["seconds"] if log else 0.0)
    for step in bar:
        image_size, targets, scale = config.stage(step)
        set_image_size(sam, image_size)
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate_at(step)
        # each step's scene and prompts come from (seed, step): a resumed run continues exactly
        example = make_example(seed=_scene_seed(config.seed, step), img_size=image_size,
                               targets=targets, level_odds=config.level_odds,
                               scale=scale)  # fmt: skip
        result = learn(
            sam, optimizer, example, np.random.default_rng([config.seed, step, 2]), config
        )

        log.append(
            {
                "step": step + 1,
                "image_size": image_size,
                "clicks": result.clicks,
                "loss": result.loss.item(),
                "mask_loss": result.result.mask_loss,
                "iou_loss": result.result.iou_loss,
                "trained_iou": result.result.trained_iou,
                "learning_rate": config.learning_rate_at(step),
                "seconds": time.perf_counter() - started,
            }
        )
        recent = log[-50:]
        first_prompt = [row["trained_iou"] for row in recent if row["clicks"] == 0]
        bar.set_postfix(
            loss=f"{np.mean([row['loss'] for row in recent]):.3f}",
            mIoU=f"{np.mean(first_prompt) if first_prompt else float('nan'):.3f}",
            size=image_size,
        )
        if (step + 1) % 50 == 0 or step + 1 == config.steps:
            _checkpoint(work_dir / "checkpoint.pt", config, sam, optimizer, log)

    set_image_size(sam, 1024)
    weights = save_weights(sam.eval(), out_dir / WEIGHTS_FILE, config=asdict(config))
    _write_log(out_dir / LOG_FILE, log)
    return weights


def learn(
    sam: Sam,
    optimizer: torch.optim.Optimizer,
    example: Example,
    rng: np.random.Generator,
    config: TrainConfig,
) -> StepResult:
    """One step of the recipe on `example`, then the optimizer's update from its loss, gradients
    clipped to `config.max_grad_norm`. The caller sets the learning rate."""
    result = training_step(sam, example, rng, config.box_fraction, config.max_clicks)
    optimizer.zero_grad(set_to_none=True)
    result.loss.backward()
    torch.nn.utils.clip_grad_norm_(sam.parameters(), config.max_grad_norm)
    optimizer.step()
    return result


def _scene_seed(seed: int, step: int) -> int:
    # training scenes: world seeds from 10^6 up; evaluation draws below that, so never sees them
    return 1_000_000 + seed * 100_000 + step


def _checkpoint(path: Path, config: TrainConfig, sam: Sam, optimizer, log: list[dict]) -> None:
    state = {"config": asdict(config), "model": sam.state_dict(),
             "optimizer": optimizer.state_dict(), "log": log}  # fmt: skip
    temporary = path.with_suffix(".tmp")
    torch.save(state, temporary)
    os.replace(temporary, path)


def _resume(path: Path, config: TrainConfig, sam: Sam, optimizer, log: list[dict]) -> int:
    """Loads the work directory's checkpoint if there is one; returns the step to start from.

    Only the number of cycles may differ, as long as the checkpoint is not further along than the
    run: every cycle has the same schedule, so the first cycles of both runs are the same steps.
    (Checkpoints from before cycles existed have no `cycles` at all.)"""
    if not path.exists():
        return 0
    state = torch.load(path, map_location="cpu", weights_only=True)
    same_cycle = {**state["config"], "cycles": config.cycles} == asdict(config)
    if not same_cycle or len(state["log"]) > config.steps:
        raise ValueError(
            f"{path} is a checkpoint of a run with another configuration; remove it (or choose"
            " another --work-dir) to start afresh"
        )
    sam.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    log.extend(state["log"])
    return len(log)


def _write_log(path: Path, log: list[dict]) -> None:
    temporary = path.with_suffix(".tmp")
    with open(temporary, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=LOG_COLUMNS)
        writer.writeheader()
        for row in log:
            writer.writerow(
                {k: (f"{v:.5g}" if isinstance(v, float) else v) for k, v in row.items()}
            )
    os.replace(temporary, path)
