"""Diagrams of the two-way transformer: one block, with its two lanes, and the whole stack."""

from samdec.diagrams.kit import Box, Diagram
from samdec.trace import Call, call_at, format_shape

# x of the residual streams: the tokens' on the left, the image's on the right. Attention boxes
# sit between them on the side of the lane they update, their q, k, v inputs `PORT` apart.
TOKENS, IMAGE = 1.35, 7.25
PORT = 0.6
TOKEN_BOX, IMAGE_BOX = TOKENS + 2 * PORT + 0.1, IMAGE - 2 * PORT - 0.1


def _pe_add(d: Diagram, stream_x: float, x: float, y: float, pe_name: str) -> Box:
    """A branch of the stream plus its positional encoding, the PE chip on the far side."""
    d.dot(stream_x, y)
    add = d.add(x, y)
    towards = 1 if x > stream_x else -1
    w = 0.35 + 0.075 * len(pe_name)
    chip = d.box(x + towards * (w / 2 + 0.28), y, pe_name, "pe", w=w)
    d.arrow(chip.left if towards > 0 else chip.right, add.right if towards > 0 else add.left)
    d.arrow((stream_x, y), add.left if towards > 0 else add.right)
    return add


def _residual_and_norm(
    d: Diagram, stream_x: float, update: Box, label: str, norm: str, norm_width: float = 0.9
) -> Box:
    """The stream plus `update`, then a LayerNorm; returns the norm's box."""
    add = d.add(stream_x, update.bottom[1] + 0.38)
    entry = add.right if update.x > stream_x else add.left
    d.arrow(update.bottom, (update.x, add.y), entry, label=label)
    norm_box = d.box(stream_x, add.y + 0.48, norm, "norm", w=norm_width)
    d.arrow(add.bottom, norm_box.top)
    return norm_box


def _cross_attention(
    d: Diagram,
    y: float,
    call: Call,
    into_tokens: bool,
    title: str,
    pe_names: tuple[str, str] = ("query_pe", "key_pe"),
) -> Box:
    """The lane being updated supplies q (plus its PE); the other lane k (plus its PE) and v.
    Both arrive from across the gap between the lanes."""
    if into_tokens:
        box_x, own, other, sign = TOKEN_BOX, TOKENS, IMAGE, 1
        own_pe, other_pe = pe_names
    else:
        box_x, own, other, sign = IMAGE_BOX, IMAGE, TOKENS, -1
        other_pe, own_pe = pe_names
    q_x, k_x, v_x = box_x - sign * PORT, box_x, box_x + sign * PORT
    k_add_x = (IMAGE_BOX + PORT) if into_tokens else (TOKEN_BOX - PORT)
    q_add = _pe_add(d, own, q_x, y, own_pe)
    k_add = _pe_add(d, other, k_add_x, y, other_pe)
    box = d.box(box_x, y + 1.35, title, "attention", call.path.rsplit(".", 1)[-1], w=2.3)
    d.arrow(q_add.bottom, (q_x, box.top[1]), label="q", side="left" if into_tokens else "right")
    k_y, v_y = y + 0.45, y + 0.8
    k_label, v_label = (f"{name}  {format_shape(call.input(name))}" for name in ("k", "v"))
    d.arrow(
        k_add.bottom,
        (k_add_x, k_y),
        (k_x, k_y),
        (k_x, box.top[1]),
        label=k_label,
        segment=1,
        side="above",
    )
    d.dot(other, v_y)
    d.arrow((other, v_y), (v_x, v_y), (v_x, box.top[1]), label=v_label, side="above")
    return box


def two_way_block(calls: list[Call]) -> Diagram:
    path = "transformer.layers.1"
    block = call_at(calls, path)
    self_attn, t2i, mlp, i2t = (
        call_at(calls, f"{path}.{name}")
        for name in ("self_attn", "cross_attn_token_to_image", "mlp", "cross_attn_image_to_token")
    )
    tokens, image = (format_shape(shape) for shape in block.outputs)
    d = Diagram(
        8.6,
        15.3,
        "TwoWayAttentionBlock: the tokens and the image attend to each other",
        f"{path}. layers.0 is the same block with skip_first_layer_pe: its step (1) is"
        " self_attn(q=k=v=queries),\nwithout the positional encoding and without the residual.",
    )
    d.note(TOKENS - 0.9, 1.2, "tokens lane")
    d.note(IMAGE + 0.9, 1.2, "image lane", ha="right")
    queries = d.tensor(TOKENS, 1.75, "queries", block.input("queries"), w=1.6)
    keys = d.tensor(IMAGE, 1.75, "keys", block.input("keys"), w=1.6)
    pe_shapes = (
        f"query_pe {format_shape(block.input('query_pe'))}\n"
        f"key_pe {format_shape(block.input('key_pe'))}"
    )
    d.box(4.3, 1.75, "positional encodings", "pe", pe_shapes, w=2.5)

    # (1) self-attention of the tokens: q = k = queries + query_pe, v = queries
    y = 2.7
    q_add = _pe_add(d, TOKENS, TOKEN_BOX + PORT, y, "query_pe")
    attn = d.box(TOKEN_BOX, y + 1.05, "(1) self-attention", "attention", "self_attn", w=2.3)
    d.arrow(q_add.bottom, attn.top_at(PORT), label="q = k")
    d.dot(TOKENS, y + 0.4)
    d.arrow(
        (TOKENS, y + 0.4), (TOKEN_BOX - PORT, y + 0.4), attn.top_at(-PORT), label="v", segment=1
    )
    norm1 = _residual_and_norm(d, TOKENS, attn, format_shape(self_attn.output), "norm1")
    d.arrow(queries.bottom, (TOKENS, norm1.y - 0.61), label=tokens, side="left")

    # (2) the tokens attend to the image
    y = norm1.bottom[1] + 0.55
    attn = _cross_attention(d, y, t2i, True, "(2) token → image")
    norm2 = _residual_and_norm(d, TOKENS, attn, format_shape(t2i.output), "norm2")
    d.arrow(norm1.bottom, (TOKENS, norm2.y - 0.61), label=tokens, side="left")

    # (3) the MLP on the tokens
    y = norm2.bottom[1] + 0.45
    d.dot(TOKENS, y)
    box = d.box(TOKEN_BOX, y + 0.6, "(3) MLP", "linear", "mlp: MLPBlock", w=2.3)
    d.arrow((TOKENS, y), (TOKEN_BOX, y), box.top)
    norm3 = _residual_and_norm(d, TOKENS, box, format_shape(mlp.output), "norm3")
    d.arrow(norm2.bottom, (TOKENS, norm3.y - 0.61), label=tokens, side="left")

    # (4) the image attends to the tokens: the roles of the lanes swap
    y = norm3.bottom[1] + 0.55
    attn = _cross_attention(d, y, i2t, False, "(4) image → token")
    norm4 = _residual_and_norm(d, IMAGE, attn, format_shape(i2t.output), "norm4")
    d.arrow(keys.bottom, (IMAGE, norm4.y - 0.61), label=image, side="right")

    out_y = norm4.bottom[1] + 0.75
    queries_out = d.tensor(TOKENS, out_y, "queries", block.outputs[0], w=1.6)
    keys_out = d.tensor(IMAGE, out_y, "keys", block.outputs[1], w=1.6)
    d.arrow(norm3.bottom, queries_out.top, label=tokens, side="left")
    d.arrow(norm4.bottom, keys_out.top)
    d.legend(columns=1, x=4.75, y=3.35)
    return d


def two_way_transformer(calls: list[Call]) -> Diagram:
    transformer = call_at(calls, "transformer")
    layers = [
        call for call in calls if call.path.startswith("transformer.layers.") and call.depth == 3
    ]
    final = call_at(calls, "transformer.final_attn_token_to_image")
    norm = call_at(calls, "transformer.norm_final_attn")
    tokens, image = (format_shape(shape) for shape in transformer.outputs)
    d = Diagram(
        8.6,
        13.2,
        "TwoWayTransformer: two blocks, then a last token → image attention",
        "transformer; point_embedding is both the first queries and, at every attention, the"
        " queries' positional encoding",
    )
    d.note(TOKENS - 0.9, 1.05, "tokens lane")
    d.note(IMAGE + 0.9, 1.05, "image lane", ha="right")
    point = d.tensor(TOKENS, 1.6, "point_embedding", transformer.input("point_embedding"), w=1.9)
    image_pe = d.tensor(4.6, 1.6, "image_pe", transformer.input("image_pe"), w=1.9)
    embedding = d.tensor(IMAGE, 1.6, "image_embedding", transformer.input("image_embedding"), w=1.9)
    flatten = "flatten(2), permute"
    pe_flat = d.box(image_pe.x, 2.8, flatten, "reshape", "B C H W → B H*W C", w=1.9)
    embedding_flat = d.box(IMAGE, 2.8, flatten, "reshape", "B C H W → B H*W C", w=1.9)
    d.arrow(image_pe.bottom, pe_flat.top)
    d.arrow(embedding.bottom, embedding_flat.top)
    first = layers[0]
    pe_tokens = d.tensor(image_pe.x, 3.95, "image_pe", first.input("key_pe"), w=1.9)
    d.arrow(pe_flat.bottom, pe_tokens.top)

    top, stream_labels = pe_tokens.bottom[1] + 0.4, (tokens, image)
    for layer in layers:
        index = layer.path.rsplit(".", 1)[-1]
        chips = [
            d.box(3.0, top + 0.3, "point_embedding", "pe", "as query_pe", w=1.7),
            d.box(5.6, top + 0.3, "image_pe", "pe", "as key_pe", w=1.7),
        ]
        steps = "(1) self-attention  (2) token → image  (3) MLP  (4) image → token"
        if index == "0":
            steps = steps.replace("self-attention", "self-attention, no PE, no residual")
        box = d.box(
            4.3, top + 1.45, f"layers.{index}: TwoWayAttentionBlock", "attention", steps, w=7.6
        )
        for chip in chips:
            d.arrow(chip.bottom, (chip.x, box.top[1]))
        if index == "0":
            d.arrow(
                point.bottom,
                (TOKENS, box.top[1]),
                label=f"queries  {stream_labels[0]}",
                side="right",
            )
            d.arrow(
                embedding_flat.bottom,
                (IMAGE, box.top[1]),
                label=f"keys  {stream_labels[1]}",
                side="left",
            )
        else:
            d.arrow(
                previous.bottom_at(TOKENS - 4.3), (TOKENS, box.top[1]), label=tokens, side="right"
            )
            d.arrow(previous.bottom_at(IMAGE - 4.3), (IMAGE, box.top[1]), label=image, side="right")
        previous, top = box, box.bottom[1] + 0.5

    pe_names = ("point_embedding", "image_pe")
    attn = _cross_attention(d, top, final, True, "final token → image", pe_names)
    norm_box = _residual_and_norm(
        d, TOKENS, attn, format_shape(final.output), norm.path.split(".")[-1], 1.5
    )
    d.arrow(
        previous.bottom_at(TOKENS - 4.3), (TOKENS, norm_box.y - 0.61), label=tokens, side="left"
    )
    out_y = norm_box.bottom[1] + 0.75
    queries = d.tensor(TOKENS, out_y, "queries", transformer.outputs[0], w=1.6)
    keys = d.tensor(IMAGE, out_y, "keys", transformer.outputs[1], w=1.6)
    d.arrow(norm_box.bottom, queries.top, label=format_shape(norm.output), side="right")
    d.arrow(previous.bottom_at(IMAGE - 4.3), keys.top, label=image, side="right")
    d.legend(columns=1, x=4.4, y=attn.y - 0.3)
    return d
