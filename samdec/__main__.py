"""`python -m samdec [trace]` prints the shape of every tensor in the decoder on the walk-through's
example; `python -m samdec figures [--check]` draws the structure diagrams (and the trained model's
pictures) into figures/; `python -m samdec train` trains the shipped model, `python -m samdec
evaluate` measures it on held-out scenes and `python -m samdec export-onnx PATH` writes its prompt
encoder and decoder as ONNX."""

import argparse
import sys
from pathlib import Path

from samdec.trace import format_table, trace_example
from samdec.training.config import TrainConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m samdec", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    trace = commands.add_parser("trace", help="print the shape flow (the default)")
    trace.add_argument("--depth", type=int, help="leave out calls nested deeper than this")
    figures = commands.add_parser(
        "figures", help="draw the structure diagrams and the trained model's pictures"
    )
    figures.add_argument(
        "--check",
        action="store_true",
        help="write nothing; fail, listing them, if committed figures differ from the code's",
    )
    figures.add_argument(
        "--dir", type=Path, default=Path("figures"), help="relative to the current directory"
    )
    train = commands.add_parser("train", help="train the shipped model (make train)")
    train.add_argument("--steps-at-512", type=int, default=TrainConfig.steps_at_512)
    train.add_argument("--steps-at-1024", type=int, default=TrainConfig.steps_at_1024)
    train.add_argument(
        "--cycles",
        type=int,
        default=TrainConfig.cycles,
        help="times through both stages, the learning rate restarting each time",
    )
    train.add_argument("--seed", type=int, default=TrainConfig.seed)
    train.add_argument(
        "--level-odds",
        type=float,
        nargs=3,
        default=TrainConfig.level_odds,
        metavar=("WHOLE", "PART", "SUBPART"),
        help="odds of each level among the target masks",
    )
    train.add_argument(
        "--scale-at-512",
        type=float,
        default=TrainConfig.scale_at_512,
        help="scene scale in the 512 stage: 0.5 whole scenes, 1 windows of them at full size",
    )
    train.add_argument(
        "--out", type=Path, help="where the weights and the log go (default: the package's)"
    )
    train.add_argument(
        "--work-dir", type=Path, default=Path("runs/train"), help="checkpoints, to resume from"
    )
    train.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    evaluate = commands.add_parser("evaluate", help="the trained model's figures, held-out scenes")
    evaluate.add_argument("--scenes", type=int, default=60, help="held-out scenes per look")
    evaluate.add_argument("--weights", type=Path, help="a safetensors file (default: the shipped)")
    evaluate.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    evaluate.add_argument(
        "--everything-scenes", type=int, default=10, help="held-out scenes for segment-everything"
    )
    export = commands.add_parser(
        "export-onnx", help="the trained prompt encoder and decoder as one ONNX graph"
    )
    export.add_argument("path", type=Path, help="the .onnx file to write")
    export.add_argument("--weights", type=Path, help="a safetensors file (default: the shipped)")
    export.add_argument(
        "--return-single-mask", action="store_true", help="one mask per call, as the web demo's"
    )
    args = parser.parse_args(argv)

    if args.command == "train":
        return _train(args)
    if args.command == "evaluate":
        return _evaluate(args)
    if args.command == "export-onnx":
        return _export_onnx(args)

    if args.command == "figures":
        # matplotlib is only needed here: the trace table works without importing it
        from samdec.diagrams import check_figures, write_figures

        if args.check:
            stale = check_figures(args.dir)
            for file_name in stale:
                print(f"{args.dir / file_name} differs from what the code draws", file=sys.stderr)
            if stale:
                print("regenerate them with `make figures`", file=sys.stderr)
            return 1 if stale else 0
        from samdec.pictures import write_pictures
        from samdec.pretrained import load_pretrained

        for path in [*write_figures(args.dir), *write_pictures(args.dir, load_pretrained())]:
            print(path)
        return 0

    print(format_table(trace_example(), max_depth=getattr(args, "depth", None)))
    return 0


def _train(args: argparse.Namespace) -> int:
    # imported here: the trace table and the figures work without the training code
    from samdec.pretrained import weights_dir
    from samdec.training.train import check_arguments, train

    config = TrainConfig(
        steps_at_512=args.steps_at_512,
        steps_at_1024=args.steps_at_1024,
        cycles=args.cycles,
        seed=args.seed,
        level_odds=tuple(args.level_odds),
        scale_at_512=args.scale_at_512,
    )
    out_dir = args.out or weights_dir()
    try:
        check_arguments(config, out_dir, args.work_dir)
    except (ValueError, OSError) as error:
        print(f"python -m samdec train: {error}", file=sys.stderr)
        return 2
    print(train(config, out_dir, args.work_dir, args.threads))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import torch

    from samdec.evaluation import evaluate, format_table
    from samdec.evaluation.segment_everything import (
        format_segment_everything,
        segment_everything_figures,
    )
    from samdec.pretrained import load_pretrained

    if args.scenes <= 0:
        print("python -m samdec evaluate: --scenes must be positive", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    sam = load_pretrained(args.weights)
    # world seeds below 10^6 are never drawn in training; the novel look is never drawn at all
    by_look = {look: evaluate(sam, range(args.scenes), look) for look in ("train", "novel")}
    print(format_table(by_look))
    if args.everything_scenes > 0:
        print("\nSegment everything (SamAutomaticMaskGenerator, default settings):\n")
        figures = segment_everything_figures(sam, range(args.everything_scenes))
        print(format_segment_everything(figures))
    return 0


def _export_onnx(args: argparse.Namespace) -> int:
    # imported here: the export needs the onnx extra, and the model only when there is a path
    from samdec.onnx import check_export_path, export_onnx
    from samdec.pretrained import load_pretrained

    try:
        check_export_path(args.path)
    except OSError as error:
        print(f"python -m samdec export-onnx: {error}", file=sys.stderr)
        return 2
    sam = load_pretrained(args.weights)
    print(export_onnx(sam.prompt_encoder, sam.mask_decoder, args.path, args.return_single_mask))
    return 0


if __name__ == "__main__":
    sys.exit(main())
