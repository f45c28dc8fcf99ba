"""`python -m samdec evaluate`: the trained model's figures on held-out scenes of the world."""

from samdec.evaluation.prompts import Figures, evaluate

# The targets of the issue that asked for the trained model.
TARGETS = {
    "one point, best of 3, mIoU": 0.90,
    "one point, IoU head's pick, mIoU": 0.85,
    "subpart point: subpart covered, mIoU": 0.80,
    "subpart point: part covered, mIoU": 0.80,
    "subpart point: whole covered, mIoU": 0.80,
    "box, mIoU": 0.92,
    "5 clicks, mIoU": 0.95,
    "IoU head, Pearson r": 0.85,
}


def format_table(by_look: dict[str, Figures]) -> str:
    """A markdown table: one row per figure, one column per look of the world, and the target."""
    looks = list(by_look)
    summaries = {look: figures.summary() for look, figures in by_look.items()}
    lines = [
        "| figure | " + " | ".join(f"{look} look" for look in looks) + " | target |",
        "| --- | " + " | ".join("---:" for _ in looks) + " | ---: |",
    ]
    for name in summaries[looks[0]]:
        target = f">= {TARGETS[name]:.2f}" if name in TARGETS else ""
        values = " | ".join(f"{summaries[look][name]:.3f}" for look in looks)
        lines.append(f"| {name} | {values} | {target} |")
    counts = ", ".join(
        f"{look}: {f.counts['objects']} objects, {f.counts['subparts']} subparts"
        for look, f in by_look.items()
    )
    return "\n".join(lines) + f"\n\nEvaluated on {counts}."


__all__ = ["TARGETS", "Figures", "evaluate", "format_table"]
