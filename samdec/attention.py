"""Multi-head attention as SAM's decoder uses it, with an optional narrower internal width."""

import math

import torch
from beartype import beartype
from jaxtyping import Float, jaxtyped
from torch import Tensor, nn


class Attention(nn.Module):
    """Multi-head attention whose q/k/v projections may shrink the width by `downsample_rate`.

    The cross-attentions between the 8 tokens and the 4096 image tokens use rate 2 (256 -> 128) to
    halve the cost of the large side; the tokens' self-attention keeps the full width.
    """

    def __init__(self, embedding_dim: int, num_heads: int, downsample_rate: int = 1) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.internal_dim = embedding_dim // downsample_rate
        self.num_heads = num_heads
        if self.internal_dim % num_heads != 0:
            raise ValueError(
                f"num_heads={num_heads} must divide the internal width {self.internal_dim}"
            )

        self.q_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.k_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.v_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.out_proj = nn.Linear(self.internal_dim, embedding_dim)

    def separate_heads(
        self, x: Float[Tensor, "B N C_internal"]
    ) -> Float[Tensor, "B N_heads N C_head"]:
        b, n, c = x.shape
        return x.reshape(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)

    def attention_weights(
        self, q: Float[Tensor, "B N_heads N_q C_head"], k: Float[Tensor, "B N_heads N_k C_head"]
    ) -> Float[Tensor, "B N_heads N_q N_k"]:
        """softmax(q k^T / sqrt(C_head)): row i spreads query i over the keys."""
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        return torch.softmax(scores, dim=-1)

    def recombine_heads(
        self, x: Float[Tensor, "B N_heads N C_head"]
    ) -> Float[Tensor, "B N C_internal"]:
        b, n_heads, n, c_head = x.shape
        return x.transpose(1, 2).reshape(b, n, n_heads * c_head)

    @jaxtyped(typechecker=beartype)
    def forward(
        self,
        q: Float[Tensor, "B N_q C"],
        k: Float[Tensor, "B N_k C"],
        v: Float[Tensor, "B N_k C"],
    ) -> Float[Tensor, "B N_q C"]:
        # input projections, then split the internal width into heads
        q = self.separate_heads(self.q_proj(q))
        k = self.separate_heads(self.k_proj(k))
        v = self.separate_heads(self.v_proj(v))

        # each head attends on its own; recombining concatenates the heads' outputs
        out = self.attention_weights(q, k) @ v
        return self.out_proj(self.recombine_heads(out))
