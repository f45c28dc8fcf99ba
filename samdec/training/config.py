"""The training run's settings: `python -m samdec train` and `make train` use the defaults."""

import math
from dataclasses import dataclass

# the odds of a target mask being a whole object, a part or a subpart
LEVEL_ODDS = (0.5, 0.3, 0.2)


@dataclass(frozen=True)
class TrainConfig:
    steps_at_512: int = 3500
    steps_at_1024: int = 300
    targets_at_512: int = 8  # sessions (target masks) per image
    targets_at_1024: int = 4
    box_fraction: float = 0.4  # of the sessions that start with a box rather than a point
    max_clicks: int = 4  # corrective clicks before the learning round, at most
    level_odds: tuple[float, float, float] = LEVEL_ODDS
    # the 512 stage draws scenes at this scale: 0.5 shows each whole scene at half size, with all
    # its objects, as 1024 does; 1.0 shows 512 x 512 windows of it at full size
    scale_at_512: float = 0.5
    learning_rate: float = 2e-4
    warmup_steps: int = 100
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    # the run repeats one cycle (the 512 stage, the 1024 stage, the learning rate's warmup and
    # decay) this many times: each cycle restarts the learning rate (a warm restart)
    cycles: int = 4
    seed: int = 0

    @property
    def steps_per_cycle(self) -> int:
        return self.steps_at_512 + self.steps_at_1024

    @property
    def steps(self) -> int:
        return self.cycles * self.steps_per_cycle

    def stage(self, step: int) -> tuple[int, int, float]:
        """(image size, targets per image, scene scale) at `step`."""
        if step % self.steps_per_cycle < self.steps_at_512:
            return 512, self.targets_at_512, self.scale_at_512
        return 1024, self.targets_at_1024, 1.0

    def learning_rate_at(self, step: int) -> float:
        """In each cycle, linear warmup, then cosine decay to a tenth."""
        step %= self.steps_per_cycle
        if step < self.warmup_steps:
            return self.learning_rate * (step + 1) / self.warmup_steps
        progress = (step - self.warmup_steps) / max(1, self.steps_per_cycle - self.warmup_steps)
        return self.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
