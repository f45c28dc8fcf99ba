"""SAM's prompt encoder: points, boxes and masks to the decoder's sparse and dense embeddings."""

import torch
from jaxtyping import Float, Real
from torch import Tensor, nn

from samdec.common import LayerNorm2d
from samdec.contracts import shape_checked
from samdec.position_encoding import PositionEmbeddingRandom

# Point labels, as SAM's predictor passes them.
PADDING_LABEL, BACKGROUND_LABEL, FOREGROUND_LABEL = -1, 0, 1

# Shapes pinned to the encoder's own configuration (jaxtyping evaluates the braces per call).
DENSE_SHAPE = "B {self.embed_dim} {self.image_embedding_size[0]} {self.image_embedding_size[1]}"
IMAGE_PE_SHAPE = "1 {self.embed_dim} {self.image_embedding_size[0]} {self.image_embedding_size[1]}"
MASK_PROMPT_SHAPE = "B 1 {self.mask_input_size[0]} {self.mask_input_size[1]}"


class PromptEncoder(nn.Module):
    """Sparse prompts (points, box corners) become one token each: the positional encoding of the
    position plus a learned embedding of its kind. A mask prompt becomes a dense embedding on the
    image-embedding grid; without one, a learned "no mask" vector is broadcast over the grid.
    """

    def __init__(
        self,
        embed_dim: int,
        image_embedding_size: tuple[int, int],
        input_image_size: tuple[int, int],
        mask_in_chans: int,
        activation: type[nn.Module] = nn.GELU,
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.input_image_size = input_image_size
        self.image_embedding_size = image_embedding_size
        self.pe_layer = PositionEmbeddingRandom(embed_dim // 2)

        # background point, foreground point, box top-left corner, box bottom-right corner
        self.num_point_embeddings = 4
        self.point_embeddings = nn.ModuleList(
            nn.Embedding(1, embed_dim) for _ in range(self.num_point_embeddings)
        )
        self.not_a_point_embed = nn.Embedding(1, embed_dim)

        # the mask prompt comes at 4x the embedding grid, and two stride-2 convs bring it down
        self.mask_input_size = (4 * image_embedding_size[0], 4 * image_embedding_size[1])
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, mask_in_chans // 4, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans // 4),
            activation(),
            nn.Conv2d(mask_in_chans // 4, mask_in_chans, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans),
            activation(),
            nn.Conv2d(mask_in_chans, embed_dim, kernel_size=1),
        )
        self.no_mask_embed = nn.Embedding(1, embed_dim)

    @shape_checked
    def get_dense_pe(
        self,
    ) -> Float[Tensor, IMAGE_PE_SHAPE]:
        """The positional encoding of every cell of the embedding grid: the decoder's `image_pe`."""
        return self.pe_layer(self.image_embedding_size).unsqueeze(0)

    @shape_checked
    def _embed_points(
        self,
        points: Real[Tensor, "B N_points 2"],
        labels: Real[Tensor, "B N_points"],
        pad: bool,
    ) -> Float[Tensor, "B N_tokens {self.embed_dim}"]:
        points = points + 0.5  # pixel centre
        if pad:
            # without a box, a "not a point" token is appended (the ONNX export's layout)
            padding_point = torch.zeros((points.shape[0], 1, 2), device=points.device)
            padding_label = torch.full((labels.shape[0], 1), PADDING_LABEL, device=labels.device)
            points = torch.cat([points, padding_point], dim=1)
            labels = torch.cat([labels, padding_label.to(labels.dtype)], dim=1)
        point_embedding = self.pe_layer.forward_with_coords(points, self.input_image_size)
        # selected with torch.where rather than boolean indexing, whose result has a data-dependent
        # shape: torch.compile keeps the whole encoder in one graph this way
        labels = labels.unsqueeze(-1)  # one label per point, broadcast over the width
        not_a_point = self.not_a_point_embed.weight
        point_embedding = torch.where(labels == PADDING_LABEL, not_a_point, point_embedding)
        background, foreground = self.point_embeddings[0].weight, self.point_embeddings[1].weight
        point_embedding = point_embedding + torch.where(labels == BACKGROUND_LABEL, background, 0.0)
        point_embedding = point_embedding + torch.where(labels == FOREGROUND_LABEL, foreground, 0.0)
        return point_embedding

    @shape_checked
    def _embed_boxes(
        self, boxes: Real[Tensor, "B 4"] | Real[Tensor, "B 1 4"]
    ) -> Float[Tensor, "B 2 {self.embed_dim}"]:
        boxes = boxes + 0.5  # pixel centre
        corners = boxes.reshape(-1, 2, 2)
        corner_embedding = self.pe_layer.forward_with_coords(corners, self.input_image_size)
        corner_embedding[:, 0, :] += self.point_embeddings[2].weight
        corner_embedding[:, 1, :] += self.point_embeddings[3].weight
        return corner_embedding

    @shape_checked
    def _embed_masks(
        self,
        masks: Float[Tensor, MASK_PROMPT_SHAPE],
    ) -> Float[Tensor, DENSE_SHAPE]:
        return self.mask_downscaling(masks)

    @shape_checked
    def forward(
        self,
        points: tuple[Real[Tensor, "B N_points 2"], Real[Tensor, "B N_points"]] | None,
        boxes: Real[Tensor, "B 4"] | Real[Tensor, "B 1 4"] | None,
        masks: Float[Tensor, MASK_PROMPT_SHAPE] | None,
    ) -> tuple[Float[Tensor, "B N_sparse {self.embed_dim}"], Float[Tensor, DENSE_SHAPE]]:
        """Sparse embeddings B x N_sparse x C (N_sparse: the points, plus a padding token when
        there is no box, plus two box corners) and dense embeddings B x C x H x W."""
        batch_size = self._batch_size(points, boxes, masks)
        sparse_embeddings = torch.empty((batch_size, 0, self.embed_dim), device=self._device())
        if points is not None:
            coords, labels = points
            point_embeddings = self._embed_points(coords, labels, pad=(boxes is None))
            sparse_embeddings = torch.cat([sparse_embeddings, point_embeddings], dim=1)
        if boxes is not None:
            box_embeddings = self._embed_boxes(boxes)
            sparse_embeddings = torch.cat([sparse_embeddings, box_embeddings], dim=1)

        if masks is not None:
            dense_embeddings = self._embed_masks(masks)
        else:
            dense_embeddings = self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(
                batch_size, -1, *self.image_embedding_size
            )
        return sparse_embeddings, dense_embeddings

    @staticmethod
    def _batch_size(
        points: tuple[Tensor, Tensor] | None, boxes: Tensor | None, masks: Tensor | None
    ) -> int:
        if points is not None:
            return points[0].shape[0]
        if boxes is not None:
            return boxes.shape[0]
        if masks is not None:
            return masks.shape[0]
        return 1

    def _device(self) -> torch.device:
        return self.point_embeddings[0].weight.device
