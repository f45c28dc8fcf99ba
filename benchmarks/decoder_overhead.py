"""What do the shape checks cost? The mask decoder at the walk-through's shapes, four ways.

samdec with its default checks (at the boundary), samdec checking every nested call too, samdec
with checks off (jaxtyping's run-time switch) and the official segment-anything 1.0, all on the
same weight tensors, interleaved in one process so that a change in machine load hits all alike.
Prints the ratios to the official.

    python benchmarks/decoder_overhead.py [--rounds 30] [--calls 5]
"""

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import beartype
import jaxtyping
import torch

from samdec.contracts import check_nested_calls
from samdec.example import example_decoder_inputs, example_modules

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import import_official_modeling, official_sam_mask_decoder


def official_decoder(state_dict: dict[str, torch.Tensor]) -> torch.nn.Module:
    decoder = official_sam_mask_decoder(import_official_modeling())
    decoder.load_state_dict(state_dict, assign=True)
    return decoder.eval()


def seconds_per_call(decoder: torch.nn.Module, inputs: dict, checks: str, calls: int) -> float:
    jaxtyping.config.update("jaxtyping_disable", checks == "off")
    check_nested_calls(checks == "nested")
    start = time.perf_counter()
    for _ in range(calls):
        decoder(**inputs, multimask_output=True)
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--calls", type=int, default=5, help="calls per timing")
    args = parser.parse_args()

    prompt_encoder, decoder = example_modules(seed=0)
    inputs = example_decoder_inputs(prompt_encoder, seed=0)
    variants = {
        "samdec, checks on": (decoder, "boundary"),
        "samdec, nested too": (decoder, "nested"),
        "samdec, checks off": (decoder, "off"),
        "official": (official_decoder(decoder.state_dict()), "off"),
    }
    timings: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants)
    rng = random.Random(0)
    with torch.no_grad():
        for module, checks in variants.values():  # warm-up
            seconds_per_call(module, inputs, checks, calls=3)
        for _ in range(args.rounds):
            rng.shuffle(order)
            for name in order:
                module, checks = variants[name]
                timings[name].append(seconds_per_call(module, inputs, checks, args.calls))
    jaxtyping.config.update("jaxtyping_disable", False)
    check_nested_calls(False)

    # Ratios are taken within a round, where the variants ran back to back, then the median over
    # rounds: a slow spell of the machine cancels out instead of landing on one variant.
    print(
        f"torch {torch.__version__}, jaxtyping {jaxtyping.__version__},"
        f" beartype {beartype.__version__}, {torch.get_num_threads()} threads"
    )
    print(f"decoder at [1,256,64,64] + [1,3,256], multimask; {args.rounds} rounds")
    print(f"{'variant':<20} {'ms/call':>8} {'ratio to official':>18}")
    for name, samples in timings.items():
        paired = [t / ref for t, ref in zip(samples, timings["official"], strict=True)]
        ms = statistics.median(samples) * 1e3
        print(f"{name:<20} {ms:8.2f} {statistics.median(paired):18.3f}")


if __name__ == "__main__":
    main()
