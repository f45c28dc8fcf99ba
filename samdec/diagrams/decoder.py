"""The whole mask decoder, with every element of the SAM paper's figure of it, on one page."""

from samdec.diagrams.kit import Diagram
from samdec.trace import Call, call_at, format_shape

TOKENS, IMAGE = 1.8, 4.45  # x of the two lanes
IOU, HYPER = 0.95, 2.75  # x of the two heads under the tokens lane
UPSCALING = 5.5  # x of the upscaling column, right of the heads


def mask_decoder(calls: list[Call]) -> Diagram:
    decoder, predict = call_at(calls, ""), call_at(calls, "predict_masks")
    transformer = call_at(calls, "transformer")
    layer = call_at(calls, "transformer.layers.0")
    t2i = call_at(calls, "transformer.layers.0.cross_attn_token_to_image")
    i2t = call_at(calls, "transformer.layers.0.cross_attn_image_to_token")
    final = call_at(calls, "transformer.final_attn_token_to_image")
    upscaling = call_at(calls, "output_upscaling")
    iou_head = call_at(calls, "iou_prediction_head")
    hyper = [c for c in calls if c.path.startswith("output_hypernetworks_mlps.") and c.depth == 2]
    layers = [c for c in calls if c.path.startswith("transformer.layers.") and c.depth == 3]

    sparse = decoder.input("sparse_prompt_embeddings")
    tokens, image_tokens = transformer.outputs
    # the learned tokens are parameters, not a module's output: their shape is what the
    # concatenation adds to the sparse prompt
    output_tokens = (sparse[0], tokens[1] - sparse[1], sparse[2])
    masks_all, iou_all = predict.outputs
    masks, iou = decoder.outputs

    d = Diagram(
        8.6,
        15.3,
        "MaskDecoder: from image and prompt embeddings to masks and IoU scores",
        "the walk-through's example: one point and a box, multimask_output=True",
    )

    def given(name: str) -> str:
        return format_shape(decoder.input(name))

    top = 1.5
    inputs = [  # x, width, title, detail
        (0.95, 1.5, "output tokens", f"IoU + {len(hyper)} mask\n{format_shape(output_tokens)}"),
        (2.65, 1.6, "sparse prompt", f"point, box corners\n{given('sparse_prompt_embeddings')}"),
        (4.45, 1.7, "image embedding", f"encoder output\n{given('image_embeddings')}"),
        (6.2, 1.6, "dense prompt", f"no mask given\n{given('dense_prompt_embeddings')}"),
        (7.8, 1.35, "image_pe", f"get_dense_pe()\n{given('image_pe')}"),
    ]
    boxes = [d.tensor(x, top, name, detail, w=w) for x, w, name, detail in inputs]
    out_tok, sparse_box, embedding, dense, image_pe = boxes

    concat = d.box(TOKENS, 2.85, "concat", "reshape", "IoU, mask, prompt tokens", w=2.0)
    d.arrow(out_tok.bottom, (out_tok.x, concat.top[1]))
    d.arrow(sparse_box.bottom, (sparse_box.x, concat.top[1]))
    repeat = d.box(IMAGE, 2.85, "repeat ×B", "reshape", "a copy per prompt set", w=1.9)
    d.arrow(embedding.bottom, repeat.top)
    add = d.add(IMAGE, 3.75)
    d.arrow(repeat.bottom, add.top)
    d.arrow(dense.bottom, (dense.x, add.y), add.right)

    frame_top = 4.3
    d.frame(0.2, frame_top, 6.35, 9.95, "transformer: TwoWayTransformer")
    pe_turn = frame_top - 0.3
    d.arrow(image_pe.bottom, (image_pe.x, pe_turn), (6.0, pe_turn), (6.0, frame_top))
    d.label(image_pe.x, (image_pe.bottom[1] + pe_turn) / 2, "repeated", side="left")
    for i, line in enumerate(
        ["image_pe and", "point_embedding", "are re-added to q", "and k at every", "attention"]
    ):
        d.note(6.6, frame_top + 0.3 + 0.22 * i, line)
    flatten = d.box(IMAGE, 5.2, "flatten", "reshape", "grid → image tokens", w=1.9)
    d.arrow(add.bottom, flatten.top, label=format_shape(transformer.input("image_embedding")))

    layer_top = 5.95
    names = ", ".join(call.path.removeprefix("transformer.") for call in layers)
    d.frame(0.35, layer_top, 6.2, 8.75, f"decoder layer ×{len(layers)}: {names}")
    self_box = d.box(TOKENS, layer_top + 0.65, "self attn.", "attention", w=2.0)
    d.arrow(
        concat.bottom,
        self_box.top,
        label=format_shape(layer.input("queries")),
        side="left",
        at=0.25,
    )
    t2i_box = d.box(TOKENS, self_box.y + 0.68, "token-to-image attn.", "attention", w=2.0)
    mlp_box = d.box(TOKENS, t2i_box.y + 0.68, "mlp", "linear", w=2.0)
    i2t_box = d.box(IMAGE, mlp_box.y + 0.68, "image-to-token attn.", "attention", w=2.2)
    d.arrow(self_box.bottom, t2i_box.top)
    d.arrow(t2i_box.bottom, mlp_box.top)
    d.arrow(
        flatten.bottom, i2t_box.top, label=format_shape(layer.input("keys")), side="left", at=0.2
    )
    d.dot(IMAGE, t2i_box.y)
    d.arrow(
        (IMAGE, t2i_box.y),
        t2i_box.right,
        label=f"k, v  {format_shape(t2i.input('k'))}",
        side="above",
    )
    d.dot(TOKENS, i2t_box.y)
    d.arrow(
        (TOKENS, i2t_box.y),
        i2t_box.left,
        label=f"k, v  {format_shape(i2t.input('k'))}",
        side="above",
    )

    final_box = d.box(
        TOKENS, 9.35, "token-to-image attn.", "attention", "final_attn_token_to_image", w=2.3
    )
    d.arrow(mlp_box.bottom, final_box.top, label=format_shape(layer.outputs[0]), side="left")
    d.dot(IMAGE, final_box.y)
    d.arrow(
        (IMAGE, final_box.y),
        final_box.right,
        label=f"k, v  {format_shape(final.input('k'))}",
        side="above",
    )

    # the heads: token 0 scores the masks, tokens 1.. become the masks' weights
    split_y, row = 10.5, 11.2  # where the tokens part ways; the first row of the heads
    iou_box = d.box(IOU, row, "mlp", "linear", "IoU head", w=1.5)
    hyper_box = d.box(HYPER, row, f"mlp ×{len(hyper)}", "linear", "one per mask token", w=1.8)
    d.arrow(final_box.bottom, (TOKENS, split_y), label=format_shape(final.output), at=0.72)
    d.dot(TOKENS, split_y)
    token_0 = f"token 0\n{format_shape(iou_head.input())}"
    d.arrow((TOKENS, split_y), (IOU, split_y), iou_box.top, label=token_0, segment=1, side="left")
    mask_tokens = f"tokens 1-{len(hyper)}\n{len(hyper)} × {format_shape(hyper[0].input())}"
    d.arrow((TOKENS, split_y), (HYPER, split_y), hyper_box.top, label=mask_tokens, segment=1)

    iou_slice = d.box(IOU, row + 1.0, "multimask slice", "reshape", "[:, 1:]", w=1.5)
    d.arrow(iou_box.bottom, iou_slice.top, label=format_shape(iou_all))
    scores = d.tensor(IOU, row + 2.0, "IoU scores", iou, w=1.5)
    d.arrow(iou_slice.bottom, scores.top)

    # the image tokens: back on their grid, then upscaled by two transposed convolutions
    regrid = d.box(UPSCALING, row, "transpose, view", "reshape", "back onto the grid", w=2.4)
    turn = split_y - 0.1
    d.arrow(
        i2t_box.bottom,
        (IMAGE, turn),
        (UPSCALING, turn),
        regrid.top,
        label=format_shape(image_tokens),
        segment=2,
    )
    previous, label = regrid, format_shape(upscaling.input())
    for i, (modules, output) in enumerate(_conv_stages(calls)):
        box = d.box(
            UPSCALING, row + 0.9 * (i + 1), "2x conv. trans.", "conv", ", ".join(modules), w=2.8
        )
        d.arrow(previous.bottom, box.top, label=label)
        previous, label = box, format_shape(output)

    # each mask's weights dotted with the upscaled embedding at every pixel, then the slice
    product = d.box(HYPER, row + 2.7, "dot product", "product", "one per mask", w=1.8)
    # stacking the MLPs' [B, C] outputs along dim 1 gives [B, N, C]
    hyper_in = (hyper[0].output[0], len(hyper), *hyper[0].output[1:])
    d.arrow(hyper_box.bottom, product.top, label=f"hyper_in {format_shape(hyper_in)}")
    d.arrow(previous.bottom, (UPSCALING, product.y), product.right, label=label)
    mask_slice = d.box(HYPER, row + 3.6, "multimask slice", "reshape", "[:, 1:]", w=1.8)
    d.arrow(product.bottom, mask_slice.top, label=format_shape(masks_all))
    masks_box = d.tensor(UPSCALING, mask_slice.y, "masks", masks, w=1.8)
    d.arrow(mask_slice.right, masks_box.left)
    d.legend(columns=1, x=6.6, y=6.0)
    return d


def _conv_stages(calls: list[Call]) -> list[tuple[list[str], tuple[int, ...]]]:
    """output_upscaling's modules grouped into stages, each opening with a ConvTranspose2d:
    the class names of each stage and the shape it outputs."""
    stages: list[tuple[list[str], tuple[int, ...]]] = []
    for call in calls:
        if call.path.startswith("output_upscaling."):
            if call.name == "ConvTranspose2d":
                stages.append(([], call.output))
            stages[-1] = ([*stages[-1][0], call.name], call.output)
    return stages
