"""SAM's mask decoder: from image and prompt embeddings to mask logits and IoU scores."""

import torch
from jaxtyping import Float
from torch import Tensor, nn

from samdec.contracts import shape_checked
from samdec.mlp import MLP
from samdec.output_upscaling import OutputUpscaling


class MaskDecoder(nn.Module):
    """A two-way transformer over [IoU token, mask tokens, prompt tokens] and the image tokens, then
    per-mask dot products between hypernetwork weights and the 4x upscaled image embedding.

    One image, many prompts: `image_embeddings` has batch 1 and is repeated once per prompt set;
    the prompt inputs carry the batch `B`.
    """

    # `forward` decodes the B prompt sets this many at a time. Each set carries its own copy of the
    # image tokens (4 MB at 64 x 64): on a CPU one set's tensors stay in cache, while passes of 8
    # or more sets ran 1.4-1.9x slower per set and held memory in proportion to B (README,
    # Performance). The outputs are the same to float32 rounding; on a GPU, set it higher.
    prompt_sets_per_pass: int = 1

    def __init__(
        self,
        *,
        transformer_dim: int,
        transformer: nn.Module,
        num_multimask_outputs: int = 3,
        activation: type[nn.Module] = nn.GELU,
        iou_head_depth: int = 3,
        iou_head_hidden_dim: int = 256,
    ) -> None:
        super().__init__()
        self.transformer_dim = transformer_dim
        self.transformer = transformer

        self.num_multimask_outputs = num_multimask_outputs

        self.iou_token = nn.Embedding(1, transformer_dim)
        self.num_mask_tokens = num_multimask_outputs + 1
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, transformer_dim)

        self.output_upscaling = OutputUpscaling(transformer_dim, activation)
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(transformer_dim, transformer_dim, transformer_dim // 8, 3)
            for _ in range(self.num_mask_tokens)
        )
        self.iou_prediction_head = MLP(
            transformer_dim, iou_head_hidden_dim, self.num_mask_tokens, iou_head_depth
        )

    @shape_checked
    def forward(
        self,
        image_embeddings: Float[Tensor, "1 {self.transformer_dim} H W"],
        image_pe: Float[Tensor, "1 {self.transformer_dim} H W"],
        sparse_prompt_embeddings: Float[Tensor, "B N_sparse {self.transformer_dim}"],
        dense_prompt_embeddings: Float[Tensor, "B {self.transformer_dim} H W"],
        multimask_output: bool,
    ) -> tuple[Float[Tensor, "B N_masks 4*H 4*W"], Float[Tensor, "B N_masks"]]:
        """Mask logits at 4x the embedding's resolution and their predicted IoU.

        With `multimask_output` the three ambiguity-resolving masks (tokens 1-3) are returned,
        otherwise the single mask of token 0. Every prompt set is decoded on its own image copy,
        so splitting the batch into passes (`prompt_sets_per_pass`) changes only the speed, the
        memory and the float32 rounding.
        """
        mask_slice = slice(1, None) if multimask_output else slice(0, 1)
        masks, iou_pred = [], []
        for sparse, dense in zip(
            sparse_prompt_embeddings.split(self.prompt_sets_per_pass),
            dense_prompt_embeddings.split(self.prompt_sets_per_pass),
            strict=True,
        ):
            pass_masks, pass_iou = self.predict_masks(
                image_embeddings=image_embeddings,
                image_pe=image_pe,
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
            )
            masks.append(pass_masks[:, mask_slice, :, :])
            iou_pred.append(pass_iou[:, mask_slice])
        return torch.cat(masks), torch.cat(iou_pred)

    @shape_checked
    def predict_masks(
        self,
        image_embeddings: Float[Tensor, "1 {self.transformer_dim} H W"],
        image_pe: Float[Tensor, "1 {self.transformer_dim} H W"],
        sparse_prompt_embeddings: Float[Tensor, "B N_sparse {self.transformer_dim}"],
        dense_prompt_embeddings: Float[Tensor, "B {self.transformer_dim} H W"],
    ) -> tuple[Float[Tensor, "B N_mask_tokens 4*H 4*W"], Float[Tensor, "B N_mask_tokens"]]:
        """All mask-token outputs, before the multimask slice. See `forward`."""
        # the tokens: one IoU token, the mask tokens, then the prompt tokens
        output_tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight], dim=0)
        output_tokens = output_tokens.unsqueeze(0).expand(sparse_prompt_embeddings.size(0), -1, -1)
        tokens = torch.cat((output_tokens, sparse_prompt_embeddings), dim=1)

        # the image once per prompt set, with its dense prompt added pixel by pixel: broadcasting
        # makes the B images as it adds, and the positional encoding, the same for all, is a view
        b = tokens.shape[0]
        src = (image_embeddings + dense_prompt_embeddings).expand(b, -1, -1, -1)
        pos_src = image_pe.expand(b, -1, -1, -1)
        c, h, w = src.shape[1:]

        hs, src = self.transformer(src, pos_src, tokens)
        iou_token_out = hs[:, 0, :]
        mask_tokens_out = hs[:, 1 : (1 + self.num_mask_tokens), :]

        # the image tokens back on their grid, then upscaled 4x
        src = src.transpose(1, 2).view(b, c, h, w)
        upscaled_embedding = self.output_upscaling(src)

        # each mask token, through its own MLP, becomes the weights of a 1x1 convolution
        hyper_in = torch.stack(
            [mlp(mask_tokens_out[:, i, :]) for i, mlp in enumerate(self.output_hypernetworks_mlps)],
            dim=1,
        )
        masks = dot_product_masks(hyper_in, upscaled_embedding)

        iou_pred = self.iou_prediction_head(iou_token_out)
        return masks, iou_pred


@shape_checked
def dot_product_masks(
    hyper_in: Float[Tensor, "B N_masks C_up"], upscaled_embedding: Float[Tensor, "B C_up H W"]
) -> Float[Tensor, "B N_masks H W"]:
    """Mask logits: at every pixel, the dot product of a mask's C_up weights with the upscaled
    embedding there. One 1x1 convolution per mask, whose weights the prompt decided."""
    b, c, h, w = upscaled_embedding.shape
    return (hyper_in @ upscaled_embedding.view(b, c, h * w)).view(b, -1, h, w)
