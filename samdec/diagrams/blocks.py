"""Diagrams of the small pieces: attention, the transformer's MLP block, the heads' MLPs and the
output upscaling. Every shape comes from the trace of the walk-through's example."""

from samdec.diagrams.kit import Diagram
from samdec.trace import Call, Shape, call_at, calls_at, format_shape

SELF_ATTN = "transformer.layers.0.self_attn"
CROSS_ATTN = "transformer.layers.0.cross_attn_token_to_image"


def _both(self_shape: Shape, cross_shape: Shape) -> str:
    return f"self    {format_shape(self_shape)}\ncross  {format_shape(cross_shape)}"


def _widths(self_width: int, cross_width: int) -> str:
    return f"{self_width} (self) | {cross_width} (cross)"


def attention(calls: list[Call]) -> Diagram:
    attns = [call_at(calls, path) for path in (SELF_ATTN, CROSS_ATTN)]

    def step(name: str, index: int = 0) -> tuple[Call, Call]:
        self_call, cross_call = (calls_at(calls, f"{a.path}.{name}")[index] for a in attns)
        return self_call, cross_call

    d = Diagram(
        8.6,
        11.3,
        "Attention: multi-head, q/k/v projections that may narrow the width",
        f"self: layers.0.self_attn, the {attns[0].input('q')[1]} tokens attend to each other;"
        " _attend() forms the weights explicitly.\n"
        "cross: layers.0.cross_attn_token_to_image, downsample_rate 2, one fused SDPA call"
        " (image-to-token: roles swapped).",
    )
    columns = {"q": 1.5, "k": 4.3, "v": 7.1}
    heads = {}
    # the head split runs three times per attention, for q, k and v in that order
    for i, (name, x) in enumerate(columns.items()):
        source = d.tensor(x, 1.55, name, _both(*(a.input(name) for a in attns)), w=2.0)
        proj = step(f"{name}_proj")
        proj_box = d.box(
            x,
            2.8,
            f"{name}_proj",
            "linear",
            "Linear → " + _widths(*(c.output[-1] for c in proj)),
            w=2.45,
        )
        d.arrow(source.bottom, proj_box.top)
        split = step("_separate_heads", i)
        split_box = d.box(
            x,
            4.05,
            "separate heads",
            "reshape",
            f"{split[0].output[1]} heads × " + _widths(*(c.output[-1] for c in split)),
            w=2.45,
        )
        d.arrow(proj_box.bottom, split_box.top, label=_both(*(c.output for c in proj)))
        heads[name] = (split_box, _both(*(c.output for c in split)))

    # the self-attention computes its weights explicitly; the cross-attention's fused call never
    # stores them, so their shape is the one its inputs imply, not one that was traced
    attend = step("_attend")
    (self_weights,) = calls_at(calls, f"{SELF_ATTN}._attention_weights")
    cross_q, cross_k = attend[1].input("q"), attend[1].input("k")
    cross_weights = format_shape((*cross_q[:-1], cross_k[-2]))
    d.frame(0.3, 5.3, 5.45, 7.5, "_attend()")
    weights_box = d.box(
        2.9,
        6.0,
        "softmax(q kᵀ / √d)",
        "attention",
        "d = " + _widths(*(c.input("q")[-1] for c in attend)),
        w=3.4,
    )
    for name in ("q", "k"):
        split_box, label = heads[name]
        d.arrow(split_box.bottom, (split_box.x, weights_box.top[1]), label=label)

    mix = d.box(2.9, 7.0, "weights @ v", "attention", "each head on its own", w=2.2)
    d.arrow(
        weights_box.bottom,
        mix.top,
        label=f"self    {format_shape(self_weights.output)}\ncross  {cross_weights}, never stored",
    )
    split_v, label_v = heads["v"]
    d.arrow(split_v.bottom, (split_v.x, mix.y), mix.right, label=label_v)

    recombine = step("_recombine_heads")
    recombine_box = d.box(2.9, 8.5, "recombine heads", "reshape", "concatenate the heads", w=2.2)
    d.arrow(mix.bottom, recombine_box.top, label=_both(*(c.output for c in attend)))

    out_proj = step("out_proj")
    out_box = d.box(
        2.9,
        9.75,
        "out_proj",
        "linear",
        "Linear → " + _widths(*(c.output[-1] for c in out_proj)),
        w=2.45,
    )
    d.arrow(recombine_box.bottom, out_box.top, label=_both(*(c.output for c in recombine)))
    output = d.tensor(2.9, 10.85, "output", _both(*(a.output for a in attns)), w=2.0)
    d.arrow(out_box.bottom, output.top)
    d.legend(columns=1, x=5.6)
    return d


def mlp_block(calls: list[Call]) -> Diagram:
    block = "transformer.layers.0"
    norm2, mlp, norm3 = (call_at(calls, f"{block}.{name}") for name in ("norm2", "mlp", "norm3"))
    lin1, act, lin2 = (call_at(calls, f"{block}.mlp.{name}") for name in ("lin1", "act", "lin2"))
    d = Diagram(
        6.0,
        9.6,
        "MLPBlock: the transformer's feed-forward step",
        f"layers.0.mlp, step (3) of the two-way block, on the {mlp.input()[1]} tokens",
    )
    x = 2.4
    queries = d.tensor(x, 1.35, "queries", "from norm2")
    d.frame(0.9, 2.3, 3.9, 5.5, "MLPBlock (mlp)")
    linear = "Linear {} → {}"
    lin1_box = d.box(x, 2.95, "lin1", "linear", linear.format(lin1.input()[-1], lin1.output[-1]))
    act_box = d.box(x, 4.0, act.name, "activation")
    lin2_box = d.box(x, 5.05, "lin2", "linear", linear.format(lin2.input()[-1], lin2.output[-1]))
    add = d.add(x, 6.45)
    norm_box = d.box(x, 7.2, "norm3", "norm", norm3.name, w=1.3)
    output = d.tensor(x, 8.3, "queries", "to step (4)")
    d.arrow(queries.bottom, lin1_box.top, label=format_shape(norm2.output))
    d.arrow(lin1_box.bottom, act_box.top, label=format_shape(lin1.output))
    d.arrow(act_box.bottom, lin2_box.top, label=format_shape(act.output))
    d.arrow(lin2_box.bottom, add.top, label=format_shape(mlp.output))
    skip_x = 4.5
    d.arrow(
        queries.right, (skip_x, queries.y), (skip_x, add.y), add.right, label="residual", segment=1
    )
    d.arrow(add.bottom, norm_box.top)
    d.arrow(norm_box.bottom, output.top, label=format_shape(norm3.output))
    d.legend(columns=3)
    return d


def _mlp_steps(calls: list[Call], path: str) -> tuple[list[tuple[str, str, str]], list[str]]:
    """An `MLP`'s layers as column steps: Linear, with ReLU between (a function, so untraced)."""
    steps, labels = [], []
    layers = [call for call in calls if call.path.startswith(f"{path}.layers.")]
    for i, layer in enumerate(layers):
        if i:
            steps.append(("ReLU", "activation", ""))
            labels += [format_shape(layers[i - 1].output)] * 2
        width_in, width_out = layer.input()[-1], layer.output[-1]
        steps.append((f"layers.{i}", "linear", f"Linear {width_in} → {width_out}"))
    return steps, labels


def hypernetwork_mlp(calls: list[Call]) -> Diagram:
    mlps = [call for call in calls if call.path.startswith("output_hypernetworks_mlps.")]
    mlps = [call for call in mlps if call.path.count(".") == 1]
    tokens, _ = call_at(calls, "transformer").outputs
    upscaled = call_at(calls, "output_upscaling").output
    masks, _ = call_at(calls, "predict_masks").outputs
    d = Diagram(
        8.6,
        10.0,
        "Hypernetwork MLPs: each mask token becomes the weights of its mask",
        "output_hypernetworks_mlps: one MLP per mask token, same layers, weights of its own",
    )
    x = 1.65
    steps, labels = _mlp_steps(calls, mlps[0].path)
    chain = d.column(
        x,
        1.25,
        [
            ("mask token 0", "tensor", "token 1 of the transformer's output"),
            *steps,
            ("weights of mask 0", "tensor", format_shape(mlps[0].output)),
        ],
        [format_shape(mlps[0].input()), *labels, format_shape(mlps[0].output)],
        w=2.6,
    )
    d.frame(0.2, 0.9, 3.1, chain[-1].bottom[1] + 0.15, "MLP 0, layer by layer")

    hs = d.tensor(6.2, 1.4, "transformer tokens", format_shape(tokens), w=2.0)
    bus_x = 4.3
    rows = [2.7 + 0.95 * i for i in range(len(mlps))]
    stack = d.box(
        7.85, (rows[0] + rows[-1]) / 2, "stack", "reshape", w=0.8, h=rows[-1] - rows[0] + 0.7
    )
    d.arrow(hs.left, (bus_x, hs.y), (bus_x, rows[-1]), (bus_x + 0.35, rows[-1]))
    for i, (mlp, y) in enumerate(zip(mlps, rows, strict=True)):
        box = d.box(
            5.6,
            y,
            f"MLP {i}",
            "linear",
            f"token {i + 1}: {format_shape(mlp.input())} → {format_shape(mlp.output)}",
            w=2.3,
        )
        if i < len(mlps) - 1:
            d.arrow((bus_x, y), box.left)
        d.arrow(box.right, (stack.left[0], y), label=format_shape(mlp.output), side="above")
    # stacking N outputs of shape [B, C] along dim 1 gives [B, N, C]
    hyper_shape = (mlps[0].output[0], len(mlps), *mlps[0].output[1:])
    hyper_in = d.tensor(7.85, rows[-1] + 1.4, "hyper_in", format_shape(hyper_shape), w=1.3)
    d.arrow(stack.bottom, hyper_in.top)
    image = d.tensor(4.9, hyper_in.y, "upscaled embedding", format_shape(upscaled), w=2.2)
    product = d.box(6.4, hyper_in.y + 1.3, "dot product", "product", "per mask, per pixel", w=1.8)
    d.arrow(hyper_in.bottom, (hyper_in.x, product.y), product.right)
    d.arrow(image.bottom, (image.x, product.y), product.left)
    out = d.tensor(6.4, product.y + 1.1, "masks", format_shape(masks))
    d.arrow(product.bottom, out.top)
    d.legend(columns=1)
    return d


def iou_head(calls: list[Call]) -> Diagram:
    head = call_at(calls, "iou_prediction_head")
    _, iou_all = call_at(calls, "predict_masks").outputs
    _, iou = call_at(calls, "").outputs
    d = Diagram(
        7.4,
        8.9,
        "IoU head: how good each mask is expected to be",
        f"iou_prediction_head, an MLP on the IoU token; the multimask slice keeps {iou[-1]} scores",
    )
    steps, labels = _mlp_steps(calls, head.path)
    chain = d.column(
        2.0,
        1.0,
        [
            ("IoU token", "tensor", "token 0 of the transformer's output"),
            *steps,
            ("multimask slice", "reshape", "[:, 1:] (multimask_output=True)"),
            ("IoU scores", "tensor", format_shape(iou)),
        ],
        [format_shape(head.input()), *labels, format_shape(iou_all), format_shape(iou)],
        w=2.9,
    )
    notes = [
        f"{iou_all[-1]} scores, one per mask token:",
        "  score 0 goes with mask 0, the single mask",
        "  returned when multimask_output=False;",
        f"  scores 1-{iou_all[-1] - 1} go with the {iou[-1]} masks returned",
        "  when it is True (the walk-through's case).",
    ]
    for i, line in enumerate(notes):
        d.note(3.9, chain[0].y + 0.22 * i, line)
    d.legend(columns=1, x=3.9)
    return d


def output_upscaling(calls: list[Call]) -> Diagram:
    _, image_tokens = call_at(calls, "transformer").outputs
    upscaling = call_at(calls, "output_upscaling")
    layers = [call for call in calls if call.path.startswith("output_upscaling.")]
    grid = upscaling.input()
    scale = upscaling.output[-1] // grid[-1]
    d = Diagram(
        8.6,
        9.8,
        f"Output upscaling: the image tokens back on their grid, then {scale}x larger",
        f"output_upscaling: {upscaling.name}, a Sequential of {len(layers)} modules",
    )
    steps = [("image tokens", "tensor", "keys, out of the transformer")]
    steps.append(("transpose, view", "reshape", f"onto the {grid[-2]} × {grid[-1]} grid"))
    for layer in layers:
        index = layer.path.rsplit(".", 1)[-1]
        width_in, width_out = layer.input()[1], layer.output[1]
        detail = f"2×2, stride 2: {width_in} → {width_out}" if "Conv" in layer.name else ""
        kind = {"ConvTranspose2d": "conv", "LayerNorm2d": "norm"}.get(layer.name, "activation")
        steps.append((f"{index}: {layer.name}", kind, detail))
    steps.append(("upscaled embedding", "tensor", format_shape(upscaling.output)))
    labels = [format_shape(image_tokens), *(format_shape(layer.input()) for layer in layers)]
    labels.append(format_shape(upscaling.output))
    chain = d.column(2.4, 1.0, steps, labels, w=2.6)
    d.frame(0.65, chain[2].top[1] - 0.4, 4.3, chain[-2].bottom[1] + 0.1, "output_upscaling")
    sides = " → ".join(str(layer.output[-1]) for layer in layers if "Conv" in layer.name)
    notes = [
        "Each transposed convolution turns every pixel",
        "into a 2 × 2 patch (kernel 2, stride 2):",
        f"{grid[-1]} → {sides} pixels a side, {scale}x in all,",
        "while the channels shrink to",
        f"{upscaling.output[1]}, the width of a hypernetwork's output.",
    ]
    for i, line in enumerate(notes):
        d.note(4.8, chain[3].y + 0.22 * i, line)
    d.legend(columns=1, x=4.8)
    return d
