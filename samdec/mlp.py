"""The small MLP of the decoder's heads: hypernetwork MLPs and the IoU prediction head."""

import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from samdec.contracts import shape_checked


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
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.num_layers = num_layers
        hidden = [hidden_dim] * (num_layers - 1)
        self.layers = nn.ModuleList(
            nn.Linear(n_in, n_out)
            for n_in, n_out in zip([input_dim, *hidden], [*hidden, output_dim], strict=True)
        )
        self.sigmoid_output = sigmoid_output

    @shape_checked
    def forward(
        self, x: Float[Tensor, "*batch {self.input_dim}"]
    ) -> Float[Tensor, "*batch {self.output_dim}"]:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < self.num_layers - 1:
                x = F.relu(x)
        return x.sigmoid() if self.sigmoid_output else x
