"""The training recipe: losses against hand computation, the click sampler, a step that learns,
and a run that checks its arguments, resumes, and never leaves half-written weights."""

import math
import os
from dataclasses import replace

import numpy as np
import pytest
import torch

from samdec.sam import build_sam
from samdec.training.clicks import corrective_click, noisy_box, point_inside
from samdec.training.config import TrainConfig
from samdec.training.episode import make_example
from samdec.training.losses import dice_loss, mask_iou, sigmoid_focal_loss
from samdec.training.recipe import score_round, training_step
from samdec.training.train import check_arguments, learn, train


def test_focal_loss_by_hand():
    # a foreground pixel at p = 0.8 and a background pixel at p = 0.3 (logit ln(p / (1 - p)))
    logits = torch.tensor([[[math.log(4.0), math.log(3 / 7)]]])
    targets = torch.tensor([[[True, False]]])
    foreground = 0.25 * (1 - 0.8) ** 2 * -math.log(0.8)
    background = 0.75 * 0.3**2 * -math.log(0.7)
    expected = (foreground + background) / 2
    torch.testing.assert_close(sigmoid_focal_loss(logits, targets), torch.tensor([expected]))


def test_dice_loss_by_hand():
    logits = torch.tensor([[[0.0, 0.0], [100.0, -100.0]]])  # p = 0.5, 0.5, 1, 0
    targets = torch.tensor([[[True, False], [True, False]]])
    # 2 * (0.5 + 1) + 1 over (0.5 + 0.5 + 1) + 2 + 1
    torch.testing.assert_close(dice_loss(logits, targets), torch.tensor([1 - 4 / 5]))
    assert dice_loss(torch.full((1, 4, 4), -100.0), torch.zeros(1, 4, 4, dtype=bool)) < 1e-6


def test_mask_iou():
    a = torch.tensor([[True, True], [False, False]])
    b = torch.tensor([[True, False], [True, False]])
    assert mask_iou(a[None], b[None]).item() == pytest.approx(1 / 3)
    assert mask_iou(~(a | True)[None], ~(b | True)[None]).item() == 1.0  # both empty


def test_the_lone_point_trains_its_best_of_three_and_a_box_token_zero():
    targets = torch.zeros(2, 4, 4, dtype=bool)
    targets[:, :2, :2] = True
    masks = torch.full((2, 4, 4, 4), -10.0)
    masks[:, 2, :2, :2] = 10.0  # token 2 is right
    iou_predictions = torch.tensor([[0.0, 0.1, 0.2, 0.9], [0.0, 0.1, 0.2, 0.9]])
    result = score_round(masks, iou_predictions, targets, multimask=torch.tensor([True, False]))
    # the point learns from token 2 (IoU 1), the box from token 0 (IoU 0)
    assert result.trained_iou == pytest.approx(0.5)
    # the point keeps its most confident mask (token 3, empty), the box its only one
    assert (result.kept_logits[0] == masks[0, 3]).all()
    assert (result.kept_logits[1] == masks[1, 0]).all()


def test_corrective_clicks_come_from_the_error_region_with_its_label():
    rng = np.random.default_rng(0)
    target = np.zeros((32, 32), dtype=bool)
    target[8:24, 8:24] = True
    prediction = np.zeros_like(target)
    prediction[4:16, 4:16] = True  # misses the lower right, spills over the upper left
    labels = {0: 0, 1: 0}
    for _ in range(200):
        (x, y), label = corrective_click(prediction, target, rng)
        assert prediction[y, x] != target[y, x]
        assert label == (1 if target[y, x] else 0)
        labels[label] += 1
    assert min(labels.values()) > 20  # both kinds occur
    (x, y), label = corrective_click(target, target, rng)  # nothing to correct
    assert target[y, x] and label == 1


def test_first_prompts_lie_on_the_target():
    rng = np.random.default_rng(1)
    target = np.zeros((64, 64), dtype=bool)
    target[10:30, 20:50] = True
    for _ in range(50):
        x, y = point_inside(target, rng)
        assert target[y, x]
        box = noisy_box(target, rng)
        # each corner within a few standard deviations (10% of the side) of the true box
        assert (np.abs(box - [20, 10, 50, 30]) <= [12, 8, 12, 8]).all()


def test_the_512_stage_sees_whole_scenes_at_half_size_or_windows_at_full_size():
    for seed in range(5, 8):
        whole = make_example(seed=seed, img_size=512, targets=4, scale=0.5)
        window = make_example(seed=seed, img_size=512, targets=4, scale=1.0)
        full = make_example(seed=seed, img_size=1024, targets=4)
        assert max(whole.image.shape[:2]) == 512  # the scene, all of it, half size
        half = np.array(full.image.shape[:2]) / 2
        assert (np.abs(np.array(whole.image.shape[:2]) - half) <= 1).all()
        assert window.image.shape[:2] == (512, 512)  # a part of the scene, full size
        # the label maps cover the drawn photo (4 pixels a cell), nothing beyond it
        height, width = whole.image.shape[:2]
        rows, cols = np.nonzero(whole.targets.any(axis=0))
        assert rows.max() < -(-height // 4) and cols.max() < -(-width // 4)


def test_level_odds_choose_the_targets_level():
    wholes = make_example(seed=5, img_size=1024, targets=6, level_odds=(1.0, 0.0, 0.0))
    subparts = make_example(seed=5, img_size=1024, targets=6, level_odds=(0.0, 0.0, 1.0))
    assert wholes.targets.sum(axis=(1, 2)).min() > subparts.targets.sum(axis=(1, 2)).max()


def test_one_training_step_lowers_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    sam = build_sam(256)  # a 16 x 16 grid: the same model, cheaper
    example = make_example(seed=5, img_size=256, targets=4)
    optimizer = torch.optim.AdamW(sam.parameters(), lr=1e-3)

    def loss():
        return training_step(sam, example, np.random.default_rng(0), 0.5, max_clicks=0).loss

    before = loss()
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        assert loss() < before


def test_bad_arguments_fail_before_any_step(tmp_path):
    with pytest.raises(ValueError, match="steps"):
        check_arguments(TrainConfig(steps_at_512=0, steps_at_1024=0), tmp_path, tmp_path)
    with pytest.raises(ValueError, match="level odds"):
        check_arguments(TrainConfig(level_odds=(0.0, 0.5, 0.5)), tmp_path, tmp_path)
    with pytest.raises(ValueError, match="level odds"):
        check_arguments(TrainConfig(level_odds=(1.0, -0.1, 0.1)), tmp_path, tmp_path)
    with pytest.raises(ValueError, match="scale"):
        check_arguments(TrainConfig(scale_at_512=0.0), tmp_path, tmp_path)
    with pytest.raises(ValueError, match="cycles"):
        check_arguments(TrainConfig(cycles=0), tmp_path, tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError, match="cannot write"):
        check_arguments(TrainConfig(), tmp_path / "file" / "below", tmp_path)
    if os.geteuid() != 0:  # permissions do not stop root
        read_only = tmp_path / "read_only"
        read_only.mkdir(mode=0o500)
        with pytest.raises(OSError, match="cannot write"):
            check_arguments(TrainConfig(), read_only, tmp_path)


def test_each_cycle_repeats_the_stages_and_restarts_the_learning_rate():
    config = TrainConfig(steps_at_512=10, steps_at_1024=5, warmup_steps=2, cycles=3)
    assert config.steps == 45
    one_cycle = [(config.stage(s), config.learning_rate_at(s)) for s in range(15)]
    assert [size for (size, _, _), _ in one_cycle] == [512] * 10 + [1024] * 5
    for cycle in (1, 2):
        assert [
            (config.stage(s), config.learning_rate_at(s))
            for s in range(15 * cycle, 15 * cycle + 15)
        ] == one_cycle
    rates = [rate for _, rate in one_cycle]
    assert rates[0] < rates[1] == config.learning_rate  # warmup
    assert config.learning_rate > rates[3] > rates[-1] > config.learning_rate / 10  # decay


TINY = TrainConfig(steps_at_512=2, steps_at_1024=1, targets_at_512=2, targets_at_1024=1,
                   warmup_steps=1, cycles=1)  # fmt: skip


def test_a_run_writes_weights_and_log_and_resumes(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    weights = train(TINY, out, work, progress=False)
    log = (out / "training_log.csv").read_text().splitlines()
    assert log[0].startswith("step,image_size,clicks,loss") and len(log) == 1 + TINY.steps
    assert [row.split(",")[1] for row in log[1:]] == ["512", "512", "1024"]
    first = weights.read_bytes()
    train(TINY, out, work, progress=False)  # everything done already: resumes at the end
    assert weights.read_bytes() == first
    with pytest.raises(ValueError, match="another configuration"):
        train(TrainConfig(steps_at_512=3, steps_at_1024=0), out, work, progress=False)


def test_a_run_with_more_cycles_continues_a_finished_one(tmp_path, monkeypatch):
    straight = train(replace(TINY, cycles=2), tmp_path / "straight", tmp_path / "straight-work",
                     progress=False)  # fmt: skip
    out, work = tmp_path / "out", tmp_path / "work"
    train(TINY, out, work, progress=False)
    first_cycle = (out / "training_log.csv").read_text().splitlines()
    steps_run = []

    def counted(*args):
        steps_run.append(args)
        return learn(*args)

    monkeypatch.setattr("samdec.training.train.learn", counted)
    train(replace(TINY, cycles=2), out, work, progress=False)
    log = (out / "training_log.csv").read_text().splitlines()
    assert len(steps_run) == TINY.steps  # only the second cycle ran
    assert log[: len(first_cycle)] == first_cycle  # the first is the finished run's, as logged
    assert [row.split(",")[1] for row in log[1:]] == ["512", "512", "1024"] * 2
    # and ends bit for bit where an uninterrupted run does: why resuming reproduces `make train`
    assert (out / "sam_world.safetensors").read_bytes() == straight.read_bytes()
    with pytest.raises(ValueError, match="another configuration"):  # fewer steps than done
        train(TINY, out, work, progress=False)


def test_an_interrupted_run_leaves_the_shipped_weights_intact(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    shipped = out / "sam_world.safetensors"
    shipped.write_bytes(b"the shipped weights")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("samdec.training.train.training_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(TINY, out, tmp_path / "work", progress=False)
    assert shipped.read_bytes() == b"the shipped weights"
