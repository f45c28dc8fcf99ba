"""Random-Fourier-feature positional encoding, shared by the prompts and the image grid."""

import math

import torch
from jaxtyping import Float, Real
from torch import Tensor, nn

from samdec.contracts import shape_checked


class PositionEmbeddingRandom(nn.Module):
    """Encodes an (x, y) position as sin and cos of its projections on random 2-D frequencies.

    The frequencies are a fixed Gaussian (2, num_pos_feats) buffer, saved in the checkpoint, so a
    point prompt and the image pixel it falls on get the same encoding.
    """

    def __init__(self, num_pos_feats: int = 64, scale: float | None = None) -> None:
        super().__init__()
        if scale is None or scale <= 0.0:
            scale = 1.0
        self.num_pos_feats = num_pos_feats
        self.register_buffer(
            "positional_encoding_gaussian_matrix", scale * torch.randn((2, num_pos_feats))
        )

    @shape_checked
    def _pe_encoding(
        self, coords: Float[Tensor, "*batch 2"]
    ) -> Float[Tensor, "*batch 2*{self.num_pos_feats}"]:
        """Encodes points normalised to [0, 1]^2."""
        coords = 2 * coords - 1  # to [-1, 1]
        coords = 2 * math.pi * (coords @ self.positional_encoding_gaussian_matrix)
        return torch.cat([torch.sin(coords), torch.cos(coords)], dim=-1)

    @shape_checked
    def forward(
        self, size: tuple[int, int]
    ) -> Float[Tensor, "2*{self.num_pos_feats} {size[0]} {size[1]}"]:
        """The encoding of every cell centre of an H x W grid, channels first."""
        h, w = size
        device = self.positional_encoding_gaussian_matrix.device
        grid = torch.ones((h, w), device=device, dtype=torch.float32)
        y_embed = (grid.cumsum(dim=0) - 0.5) / h
        x_embed = (grid.cumsum(dim=1) - 0.5) / w
        pe = self._pe_encoding(torch.stack([x_embed, y_embed], dim=-1))
        return pe.permute(2, 0, 1)

    @shape_checked
    def forward_with_coords(
        self, coords_input: Real[Tensor, "B N 2"], image_size: tuple[int, int]
    ) -> Float[Tensor, "B N 2*{self.num_pos_feats}"]:
        """Encodes (x, y) pixel coordinates of an image of `image_size` (H, W)."""
        # to float before dividing: integer coordinates would otherwise be truncated in place
        coords = coords_input.clone().to(torch.float)
        coords[:, :, 0] = coords[:, :, 0] / image_size[1]
        coords[:, :, 1] = coords[:, :, 1] / image_size[0]
        return self._pe_encoding(coords)
