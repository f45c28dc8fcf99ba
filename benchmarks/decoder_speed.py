"""How fast is samdec's decoder? Against the official segment-anything 1.0, in one process.

At B=1 (a click) and B=64 (a segment-everything batch), on 1 and 2 threads: the official decoder;
samdec with its shape checks (the default), without them, and compiled (`samdec.compile_decoder`);
and the decoder exported to ONNX, run by onnxruntime. All share the same weights and run
interleaved, in a shuffled order each round, so a change in machine load hits all alike; a ratio
is taken within a round, then the median over rounds. Also: the compile and export times, the
peak memory of one B=64 call, the latency of a click (prompt encoder, decoder and masks at the
original size) and, when the trained model exists, segment-everything seconds per image.

Peak memory is measured in a fresh subprocess per variant (Linux): after a warm-up call at B=1, the
peak resident set size is reset to the current one (writing 5 to /proc/self/clear_refs), one B=64
call runs, and the peak (VmHWM) minus the RSS before the call is printed. torch allocates large
tensors with mmap and returns them on free, so the peak RSS follows the tensors alive at once.
tracemalloc would not see torch's allocations at all.

    python benchmarks/decoder_speed.py [--quick]

`--quick` runs every code path once at small shapes (a narrow decoder, B=1 and B=4, one thread):
a smoke test, whose figures mean nothing.
"""

import argparse
import copy
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jaxtyping
import torch
from torch import nn

import samdec
from samdec.onnx import export_onnx
from samdec.transforms import postprocess_masks

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import (
    import_official_modeling,
    official_sam_mask_decoder,
    official_sam_prompt_encoder,
    randomize_,
)

SAM = {"transformer_dim": 256, "num_heads": 8, "mlp_dim": 2048, "depth": 2}
QUICK = {"transformer_dim": 64, "num_heads": 4, "mlp_dim": 128, "depth": 1}
ORIGINAL_SIZE = (1500, 2250)


def build(quick: bool) -> tuple[nn.Module, nn.Module, nn.Module, nn.Module]:
    """(official prompt encoder, official decoder, samdec's twins), random weights, eval mode."""
    official = import_official_modeling()
    widths = QUICK if quick else SAM
    if quick:
        official_encoder = official.PromptEncoder(
            embed_dim=64,
            image_embedding_size=(16, 16),
            input_image_size=(1024, 1024),
            mask_in_chans=16,
        )
    else:
        official_encoder = official_sam_prompt_encoder(official)
    official_decoder = official_sam_mask_decoder(official, **widths)
    encoder = samdec.build_prompt_encoder(
        widths["transformer_dim"], official_encoder.image_embedding_size, mask_in_chans=16
    )
    decoder = samdec.build_mask_decoder(**widths)
    for theirs, ours in ((official_encoder, encoder), (official_decoder, decoder)):
        randomize_(theirs)
        ours.load_state_dict(theirs.state_dict())
    return official_encoder.eval(), official_decoder.eval(), encoder.eval(), decoder.eval()


def click_prompts(batch: int) -> dict:
    """The walk-through's point and box, `batch` times, in the 1024 frame."""
    coords = samdec.transform_coords(torch.tensor([[[1300.0, 800.0]]]), ORIGINAL_SIZE)
    box = samdec.transform_boxes(torch.tensor([[700.0, 400.0, 1900.0, 1100.0]]), ORIGINAL_SIZE)
    return {
        "points": (coords.expand(batch, -1, -1), torch.ones(batch, 1, dtype=torch.int)),
        "boxes": box.expand(batch, -1),
        "masks": None,
    }


def decoder_inputs(encoder: nn.Module, batch: int) -> dict:
    sparse, dense = encoder(**click_prompts(batch))
    h, w = encoder.image_embedding_size
    return {
        "image_embeddings": torch.randn(1, encoder.embed_dim, h, w),
        "image_pe": encoder.get_dense_pe(),
        "sparse_prompt_embeddings": sparse,
        "dense_prompt_embeddings": dense,
    }


class DecoderGraph(nn.Module):
    """The decoder with multimask output, as a graph of tensors only (for the ONNX export): one
    pass over the whole batch, which onnxruntime runs as it likes."""

    def __init__(self, decoder: nn.Module) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(
        self, image_embeddings, image_pe, sparse_prompt_embeddings, dense_prompt_embeddings
    ):
        masks, iou_predictions = self.decoder.predict_masks(
            image_embeddings=image_embeddings,
            image_pe=image_pe,
            sparse_prompt_embeddings=sparse_prompt_embeddings,
            dense_prompt_embeddings=dense_prompt_embeddings,
        )
        return masks[:, 1:], iou_predictions[:, 1:]


def export_decoder_graph(decoder: nn.Module, inputs: dict, path: Path) -> Path:
    """The decoder alone as ONNX, the number of prompt sets dynamic."""
    batch = torch.export.Dim("batch", min=1)
    shapes = {name: None for name in inputs}
    shapes["sparse_prompt_embeddings"] = shapes["dense_prompt_embeddings"] = {0: batch}
    # the no-mask dense prompt is an expanded view: the exporter wants a real tensor
    inputs = {**inputs, "dense_prompt_embeddings": inputs["dense_prompt_embeddings"].contiguous()}
    program = torch.onnx.export(
        DecoderGraph(decoder).eval(),
        kwargs=inputs,
        dynamic_shapes=shapes,
        dynamo=True,
        verbose=False,
    )
    program.save(str(path), external_data=False)
    return path


def ort_session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def seconds(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def with_checks(enabled: bool, call: Callable[[], object]) -> Callable[[], object]:
    def run():
        jaxtyping.config.update("jaxtyping_disable", not enabled)
        try:
            return call()
        finally:
            jaxtyping.config.update("jaxtyping_disable", False)

    return run


def interleaved(variants: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants)
    rng = random.Random(0)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            timings[name].append(seconds(variants[name]))
    return timings


def ratio_rows(timings: dict[str, list[float]]) -> dict[str, tuple[float, float]]:
    """name -> (median ms, median of the per-round ratios to the official)."""
    reference = timings["official eager"]
    return {
        name: (
            statistics.median(samples) * 1e3,
            statistics.median(t / ref for t, ref in zip(samples, reference, strict=True)),
        )
        for name, samples in timings.items()
    }


# --- peak memory, one subprocess per variant -----------------------------------------------------

MEMORY_VARIANTS = ("official eager", "samdec checked", "samdec unchecked", "onnxruntime")


def memory_status_kb(field: str) -> int:
    """`VmRSS` (resident now) or `VmHWM` (peak resident) of this process, from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def measure_memory(variant: str, batch: int, quick: bool, onnx_path: str) -> None:
    """Runs in the subprocess: prints the peak RSS increase of one call, in MB."""
    torch.set_num_threads(1)
    _, official_decoder, encoder, decoder = build(quick)
    with torch.no_grad():
        inputs = decoder_inputs(encoder, batch)
        if variant == "onnxruntime":
            session = ort_session(Path(onnx_path), 1)
            feeds = {name: t.contiguous().numpy() for name, t in inputs.items()}
            small = {**feeds, **{k: v[:1] for k, v in feeds.items() if "prompt" in k}}
            call, warm_up = (lambda: session.run(None, feeds)), (lambda: session.run(None, small))
        else:
            module = official_decoder if variant == "official eager" else decoder
            checked = variant != "samdec unchecked"
            small_inputs = decoder_inputs(encoder, 1)
            call = with_checks(checked, lambda: module(**inputs, multimask_output=True))
            warm_up = with_checks(checked, lambda: module(**small_inputs, multimask_output=True))
        warm_up()
        Path("/proc/self/clear_refs").write_text("5")  # the peak RSS starts again from here
        before = memory_status_kb("VmRSS")
        call()
    print((memory_status_kb("VmHWM") - before) / 1024)


def peak_memory(batch: int, quick: bool, onnx_path: Path | None) -> dict[str, float]:
    peaks = {}
    for variant in MEMORY_VARIANTS:
        if variant == "onnxruntime" and onnx_path is None:
            continue
        command = [sys.executable, __file__, "--memory-of", variant, "--batch", str(batch)]
        command += ["--onnx-path", str(onnx_path)] + (["--quick"] if quick else [])
        result = subprocess.run(command, capture_output=True, text=True, check=True)
        peaks[variant] = float(result.stdout.split()[-1])
    return peaks


# --- the whole run -------------------------------------------------------------------------------


def segment_everything_seconds() -> str:
    """Seconds for one image of the example scene, or why the row is skipped."""
    try:
        from samdec.example import example_photo
        from samdec.pretrained import load_pretrained

        sam = load_pretrained()
    except (ImportError, FileNotFoundError) as error:
        return f"skipped: no trained model ({type(error).__name__}: {error})"
    generator = samdec.SamAutomaticMaskGenerator(sam)
    image = example_photo().image
    with torch.no_grad():
        elapsed = seconds(lambda: generator.generate(image))
    return f"{elapsed:.1f} s per image (eager, checks on, {torch.get_num_threads()} threads)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run at small shapes")
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--onnx-path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_of:
        measure_memory(args.memory_of, args.batch, args.quick, args.onnx_path)
        return

    batches = (1, 4) if args.quick else (1, 64)
    thread_counts = (1,) if args.quick else (1, 2)
    rounds = {1: 2, 4: 2} if args.quick else {1: 30, 64: 5}
    official_encoder, official_decoder, encoder, decoder = build(args.quick)
    compiled_encoder, compiled_decoder = copy.deepcopy(encoder), copy.deepcopy(decoder)
    samdec.compile_decoder(compiled_decoder, compiled_encoder, dynamic=False)
    workdir = Path(tempfile.mkdtemp(prefix="samdec-bench-"))

    print(
        f"torch {torch.__version__}, {'quick smoke run, ' if args.quick else ''}"
        f"decoder widths {QUICK if args.quick else SAM}"
    )
    notes = []
    try:
        import onnxruntime  # noqa: F401

        has_onnx = True
    except ImportError:
        has_onnx = False
        notes.append("onnxruntime rows skipped: the onnx extra is not installed")

    with torch.no_grad():
        onnx_path = full_graph_path = None
        if has_onnx:
            # traced at B=2: an example of size 1 would fix the batch at 1 in the graph
            inputs = decoder_inputs(encoder, 2)
            started = time.perf_counter()
            onnx_path = export_decoder_graph(decoder, inputs, workdir / "decoder.onnx")
            full_graph_path = export_onnx(encoder, decoder, workdir / "sam.onnx")
            notes.append(f"ONNX export of both graphs: {time.perf_counter() - started:.0f} s")

        print("\n| threads | B | variant | ms per call | ratio to official (median) |")
        print("| --- | --- | --- | --- | --- |")
        for threads in thread_counts:
            torch.set_num_threads(threads)
            sessions = {}
            if has_onnx:
                sessions = {"decoder": ort_session(onnx_path, threads)}
                sessions["full"] = ort_session(full_graph_path, threads)
            for batch in batches:
                inputs = decoder_inputs(encoder, batch)
                feeds = {name: t.contiguous().numpy() for name, t in inputs.items()}
                variants = {
                    "official eager": lambda i=inputs: official_decoder(**i, multimask_output=True),
                    "samdec checked": with_checks(
                        True, lambda i=inputs: decoder(**i, multimask_output=True)
                    ),
                    "samdec unchecked": with_checks(
                        False, lambda i=inputs: decoder(**i, multimask_output=True)
                    ),
                    "samdec compiled": lambda i=inputs: compiled_decoder(
                        **i, multimask_output=True
                    ),
                }
                if has_onnx:
                    session = sessions["decoder"]
                    variants["onnxruntime"] = lambda f=feeds, s=session: s.run(None, f)
                for name, call in variants.items():
                    warm = seconds(call)  # the compiled variant compiles on this first call
                    if name == "samdec compiled" and threads == thread_counts[0]:
                        first_call = f"first compiled call at B={batch}, compiling and decoding"
                        notes.append(f"{first_call}: {warm:.0f} s")
                for name, (ms, ratio) in ratio_rows(interleaved(variants, rounds[batch])).items():
                    print(f"| {threads} | {batch} | {name} | {ms:.1f} | {ratio:.3f} |")

            click = click_latency(
                official_encoder,
                official_decoder,
                encoder,
                decoder,
                compiled_encoder,
                compiled_decoder,
                sessions.get("full"),
                rounds[1],
            )
            for name, ms in click.items():
                notes.append(f"per-click latency, {threads} thread(s), {name}: {ms:.1f} ms")

    batch = batches[-1]
    peaks = peak_memory(batch, args.quick, onnx_path)
    print(f"\npeak memory of one B={batch} call (RSS above the RSS before it, 1 thread):")
    for name, megabytes in peaks.items():
        ratio = megabytes / peaks["official eager"]
        print(f"  {name:<18} {megabytes:8.0f} MB   {ratio:.2f} of the official")
    print()
    if not args.quick:
        notes.append(f"segment everything: {segment_everything_seconds()}")
    for note in notes:
        print(note)


def click_latency(
    official_encoder,
    official_decoder,
    encoder,
    decoder,
    compiled_encoder,
    compiled_decoder,
    session,
    rounds: int,
) -> dict[str, float]:
    """Median ms of one click: prompt encoder, decoder (multimask), masks at the original size."""
    prompts = click_prompts(1)
    resized = samdec.resized_shape(ORIGINAL_SIZE)
    h, w = encoder.image_embedding_size
    image = torch.randn(1, encoder.embed_dim, h, w)

    def click(prompt_encoder, mask_decoder):
        sparse, dense = prompt_encoder(**prompts)
        masks, _ = mask_decoder(
            image_embeddings=image,
            image_pe=prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=True,
        )
        return postprocess_masks(masks, resized, ORIGINAL_SIZE)

    variants = {
        "official eager": lambda: click(official_encoder, official_decoder),
        "samdec checked": lambda: click(encoder, decoder),
        "samdec compiled": lambda: click(compiled_encoder, compiled_decoder),
    }
    if session is not None:
        # the official ONNX layout: the box as two corner points, labels 2 and 3
        coords = prompts["points"][0]
        corners = prompts["boxes"].reshape(1, 2, 2)
        feeds = {
            "image_embeddings": image.numpy(),
            "point_coords": torch.cat([coords, corners], dim=1).numpy(),
            "point_labels": torch.tensor([[1.0, 2.0, 3.0]]).numpy(),
            "mask_input": torch.zeros(1, 1, 4 * h, 4 * w).numpy(),
            "has_mask_input": torch.zeros(1).numpy(),
            "orig_im_size": torch.tensor(ORIGINAL_SIZE, dtype=torch.float).numpy(),
        }
        variants["onnxruntime (SamOnnxModel)"] = lambda: session.run(None, feeds)
    for call in variants.values():
        call()
    return {name: statistics.median(t) * 1e3 for name, t in interleaved(variants, rounds).items()}


if __name__ == "__main__":
    main()
