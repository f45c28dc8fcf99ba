"""The decoder's output upscaling: the image embedding at 4x the resolution, 8x narrower."""

from jaxtyping import Float
from torch import Tensor, nn

from samdec.common import LayerNorm2d
from samdec.contracts import shape_checked


class OutputUpscaling(nn.Sequential):
    """Two 2x2 stride-2 transposed convolutions (each pixel becomes a 2x2 patch, twice), with a
    LayerNorm2d and an activation between them and an activation after: C -> C/4 -> C/8 channels.

    A `Sequential`, as in the official code, so its parameters keep their keys
    (`output_upscaling.0.weight`, ...); the subclass only adds the shape contract.
    """

    def __init__(self, transformer_dim: int, activation: type[nn.Module] = nn.GELU) -> None:
        super().__init__(
            nn.ConvTranspose2d(transformer_dim, transformer_dim // 4, kernel_size=2, stride=2),
            LayerNorm2d(transformer_dim // 4),
            activation(),
            nn.ConvTranspose2d(transformer_dim // 4, transformer_dim // 8, kernel_size=2, stride=2),
            activation(),
        )
        self.transformer_dim = transformer_dim

    @shape_checked
    def forward(
        self, x: Float[Tensor, "B {self.transformer_dim} H W"]
    ) -> Float[Tensor, "B {self.transformer_dim//8} 4*H 4*W"]:
        return super().forward(x)
