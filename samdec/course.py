"""The setup every notebook of the course shares, so that no notebook defines it again.

`setup()` loads the trained model on the running example and returns it as an `Example`; the
helpers below are the tensor operations the notebooks build once and then reuse (`linear`,
`split_heads`, `merge_heads`), the one way a refused call is shown (`show_refusal`), the names of
the decoder's tokens (`TOKEN_NAMES`), and the drawing conventions of every picture: prompts at
pixel centres (`to_grid`, `draw_prompts`), masks over the photo (`show_mask`), ground truth on a
decoder grid (`frame_mask`).
"""

from collections.abc import Callable
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from torch import Tensor, nn

from samdec import example
from samdec.mask_decoder import MaskDecoder
from samdec.predictor import SamPredictor
from samdec.prompt_encoder import PromptEncoder
from samdec.transforms import resized_shape
from samdec.world import RenderedScene

# The decoder's tokens in the example, in the order they enter the transformer.
OUTPUT_TOKEN_NAMES = ("IoU token", "mask token 0", "mask token 1", "mask token 2", "mask token 3")
PROMPT_TOKEN_NAMES = {  # by point label; the prompt encoder's kinds of sparse token
    -1: "padding point",
    0: "background point",
    1: "point",
    2: "box top-left corner",
    3: "box bottom-right corner",
}
TOKEN_NAMES = (*OUTPUT_TOKEN_NAMES, "point", "box top-left corner", "box bottom-right corner")


def token_names(point_labels: list[int], box: bool) -> list[str]:
    """The names of the decoder's tokens for a prompt: output tokens, then one per point, then the
    box corners (or, with no box, the padding point the prompt encoder appends)."""
    prompts = [PROMPT_TOKEN_NAMES[label] for label in point_labels]
    prompts += [PROMPT_TOKEN_NAMES[2], PROMPT_TOKEN_NAMES[3]] if box else [PROMPT_TOKEN_NAMES[-1]]
    return [*OUTPUT_TOKEN_NAMES, *prompts]


@dataclass(frozen=True)
class Example:
    """The running example on the trained model: `predict(point_coords=[[1300, 800]],
    point_labels=[1], box=[[700, 400, 1900, 1100]], multimask_output=True)` on the example photo."""

    photo: RenderedScene  # the 1500 x 2250 photo and its ground-truth label maps
    predictor: SamPredictor  # the trained model, with the photo set
    prompt_encoder: PromptEncoder
    decoder: MaskDecoder
    inputs: dict[str, Tensor]  # the decoder's four inputs, by keyword
    coords: Tensor  # [1, 1, 2]: the point in the 1024 frame
    labels: Tensor  # [1, 1]
    boxes: Tensor  # [1, 4]: the box in the 1024 frame
    dog: np.ndarray  # the ground-truth mask of the object under the point, 1500 x 2250 bool

    @property
    def image(self) -> np.ndarray:
        return self.photo.image


def setup() -> Example:
    """Forward passes only, seeded, and the example on the trained model."""
    torch.set_grad_enabled(False)
    torch.manual_seed(0)
    plt.rcParams.update({"figure.dpi": 72, "image.interpolation": "nearest"})
    prompt_encoder, decoder = example.example_modules()
    coords, labels, boxes = example.example_prompts()
    return Example(
        photo=example.example_photo(),
        predictor=example.example_predictor(),
        prompt_encoder=prompt_encoder,
        decoder=decoder,
        inputs=example.example_decoder_inputs(prompt_encoder),
        coords=coords,
        labels=labels,
        boxes=boxes,
        dog=example.example_object_mask(),
    )


# --- tensor operations, built in notebook 01 ----------------------------------------------------


def linear(x: Tensor, layer: nn.Linear) -> Tensor:
    """What `nn.Linear` computes: x @ W.T + b."""
    return x @ layer.weight.T + layer.bias


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """B N C_internal -> B N_heads N C_head: cut the channels into heads, heads first."""
    batch, n, width = x.shape
    return x.reshape(batch, n, num_heads, width // num_heads).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """B N_heads N C_head -> B N C_internal: the heads side by side again."""
    batch, num_heads, n, c_head = x.shape
    return x.transpose(1, 2).reshape(batch, n, num_heads * c_head)


def attention(attn: nn.Module, q: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """An `Attention` computed from its weights: projections, heads, softmax(q k^T / sqrt(C_head)),
    weighted sum of the values, heads side by side, output projection. Returns the output and the
    weights (B N_heads N_q N_k)."""
    q = split_heads(linear(q, attn.q_proj), attn.num_heads)
    k = split_heads(linear(k, attn.k_proj), attn.num_heads)
    v = split_heads(linear(v, attn.v_proj), attn.num_heads)
    weights = torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5, dim=-1)
    return linear(merge_heads(weights @ v), attn.out_proj), weights


# --- a refused call -----------------------------------------------------------------------------


def show_refusal(call: Callable[[], object], lines: int = 4) -> None:
    """Runs a call that must fail and prints the error's type and its first `lines` lines (the
    message, without the stack of frames). Returns nothing, so that a notebook shows only the
    print; a call that runs is an error."""
    try:
        call()
    except Exception as error:  # any refusal is shown
        message = []
        for line in str(error).splitlines():
            if line.startswith("---"):
                break
            if line.strip():
                message.append(line)
        print(f"{type(error).__name__}: " + "\n  ".join(message[:lines]))
        return
    raise AssertionError("the call was accepted")


# --- pictures ----------------------------------------------------------------------------------


def to_grid(xy, cell: float = 1.0) -> np.ndarray:
    """Prompt coordinates (x, y, ...) to the coordinates of an `imshow` whose pixels are `cell`
    prompt pixels wide. The prompt encoder reads pixel x as its centre, x + 0.5; `imshow` puts
    pixel centres on integers, hence the - 0.5."""
    return (np.asarray(xy, dtype=float) + 0.5) / cell - 0.5


def draw_prompts(
    ax: Axes, point=None, box=None, cell: float = 1.0, color: str = "yellow", label=None
) -> None:
    """A point (star; several as an N x 2 array) and a box (rectangle) at their pixel centres, on
    an `imshow` whose pixels are `cell` prompt pixels wide (see `to_grid`)."""
    if box is not None:
        x0, y0, x1, y1 = to_grid(box, cell)
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec=color, lw=1.5))
    if point is not None:
        xs, ys = np.atleast_2d(to_grid(point, cell)).T
        ax.plot(xs, ys, ls="none", marker="*", ms=12, color=color, mec="black", label=label)


def show_mask(
    ax: Axes, image: np.ndarray, mask: np.ndarray, color=(0.1, 0.5, 1.0), alpha: float = 0.55
) -> None:
    """The photo with a mask over it, in one colour, and the mask's outline."""
    ax.imshow(image)
    overlay = np.zeros((*mask.shape, 4))
    overlay[mask] = (*color, alpha)
    ax.imshow(overlay)
    ax.contour(mask, levels=[0.5], colors=[color], linewidths=1)
    ax.set_axis_off()


def outline(ax: Axes, mask: np.ndarray, color: str = "white", lw: float = 1.0) -> None:
    """The outline of a boolean mask drawn on an `imshow` of the same grid."""
    ax.contour(mask.astype(float), levels=[0.5], colors=[color], linewidths=lw)


def frame_mask(mask: np.ndarray, grid: int, frame: int = 1024) -> np.ndarray:
    """A mask of the original photo on a `grid` x `grid` decoder grid over the padded
    `frame` x `frame` input: each cell takes the photo's pixel under its centre (padding: False)."""
    height, width = mask.shape
    resized_h, resized_w = resized_shape((height, width), frame)
    centres = (np.arange(grid) + 0.5) * frame / grid
    rows = np.floor(centres * height / resized_h).astype(int)
    cols = np.floor(centres * width / resized_w).astype(int)
    inside_rows, inside_cols = rows < height, cols < width
    cells = np.zeros((grid, grid), dtype=bool)
    cells[np.ix_(inside_rows, inside_cols)] = mask[np.ix_(rows[inside_rows], cols[inside_cols])]
    return cells
