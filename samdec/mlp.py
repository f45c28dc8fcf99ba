"""The small MLP of the decoder's heads: hypernetwork MLPs and the IoU prediction head."""

import torch.nn.functional as F
from beartype import beartype
from jaxtyping import Float, jaxtyped
from torch import Tensor, nn


class MLP(nn.Module):
    """`num_layers` Linear layers with ReLU between them (none after the last)."""

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        output_dim: int,
        num_layers: int,
        sigmoid_output: bool = False,
    ) -> None:
        super().__init__()
        self.num_layers = num_layers
        hidden = [hidden_dim] * (num_layers - 1)
        self.layers = nn.ModuleList(
            nn.Linear(n_in, n_out)
            for n_in, n_out in zip([input_dim, *hidden], [*hidden, output_dim], strict=True)
        )
        self.sigmoid_output = sigmoid_output

    @jaxtyped(typechecker=beartype)
    def forward(self, x: Float[Tensor, "*batch C_in"]) -> Float[Tensor, "*batch C_out"]:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < self.num_layers - 1:
                x = F.relu(x)
        return x.sigmoid() if self.sigmoid_output else x
