"""Small building blocks shared by the decoder and the prompt encoder."""

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from samdec.contracts import shape_checked


class MLPBlock(nn.Module):
    """The transformer's feed-forward block: Linear, activation, Linear, back to the input width."""

    def __init__(self, embedding_dim: int, mlp_dim: int, act: type[nn.Module] = nn.GELU) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.lin1 = nn.Linear(embedding_dim, mlp_dim)
        self.lin2 = nn.Linear(mlp_dim, embedding_dim)
        self.act = act()

    @shape_checked
    def forward(
        self, x: Float[Tensor, "*batch {self.embedding_dim}"]
    ) -> Float[Tensor, "*batch {self.embedding_dim}"]:
        return self.lin2(self.act(self.lin1(x)))


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of a B C H W feature map, each pixel normalised on its own.

    `nn.LayerNorm(C)` normalises the last axis, which on a channels-first map is W; this module
    takes the mean and variance over C at every pixel. Its eps is 1e-6 (nn.LayerNorm: 1e-5).
    """

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.num_channels = num_channels
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    @shape_checked
    def forward(
        self, x: Float[Tensor, "B {self.num_channels} H W"]
    ) -> Float[Tensor, "B {self.num_channels} H W"]:
        # F.layer_norm normalises the last axis: C goes there and back, as views. The result is
        # stored channels-last, the layout the convolutions around it read fastest.
        x = F.layer_norm(
            x.permute(0, 2, 3, 1), (self.num_channels,), self.weight, self.bias, self.eps
        )
        return x.permute(0, 3, 1, 2)
