"""Multi-head attention as SAM's decoder uses it, with an optional narrower internal width."""

import math

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from samdec.contracts import shape_checked


class Attention(nn.Module):
    """Multi-head attention whose q/k/v projections may shrink the width by `downsample_rate`.

    The cross-attentions between the 8 tokens and the 4096 image tokens use rate 2 (256 -> 128) to
    halve the cost of the large side; the tokens' self-attention keeps the full width.

    `forward` computes softmax(q k^T / sqrt(C_head)) v with PyTorch's fused
    `scaled_dot_product_attention`, or, with `fused=False`, explicitly, through the weights that
    `attention_weights` returns. The two agree to float32 rounding, not bit for bit.
    """

    def __init__(
        self, embedding_dim: int, num_heads: int, downsample_rate: int = 1, fused: bool = True
    ) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.fused = fused
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

    def _separate_heads(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        x = x.reshape(b, n, self.num_heads, c // self.num_heads)
        return x.transpose(1, 2)  # B x N_heads x N x C_head

    def _query_and_key_heads(self, q: Tensor, k: Tensor) -> tuple[Tensor, Tensor]:
        # input projections, then split the internal width into heads
        return self._separate_heads(self.q_proj(q)), self._separate_heads(self.k_proj(k))

    def _attention_weights(self, q: Tensor, k: Tensor) -> Tensor:
        # softmax(q k^T / sqrt(C_head)): row i spreads query i over the keys
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        return torch.softmax(scores, dim=-1)  # B x N_heads x N_q x N_k

    def _attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        # softmax(q k^T / sqrt(C_head)) v, each head on its own: B x N_heads x N_q x C_head
        if self.fused:
            # one call that never stores the weights, with fewer passes over memory
            return F.scaled_dot_product_attention(q, k, v)
        return self._attention_weights(q, k) @ v

    def _recombine_heads(self, x: Tensor) -> Tensor:
        b, n_heads, n, c_head = x.shape
        return x.transpose(1, 2).reshape(b, n, n_heads * c_head)  # B x N x C_internal

    @shape_checked
    def forward(
        self,
        q: Float[Tensor, "B N_q {self.embedding_dim}"],
        k: Float[Tensor, "B N_k {self.embedding_dim}"],
        v: Float[Tensor, "B N_k {self.embedding_dim}"],
    ) -> Float[Tensor, "B N_q {self.embedding_dim}"]:
        q, k = self._query_and_key_heads(q, k)
        v = self._separate_heads(self.v_proj(v))
        # recombining concatenates the heads' outputs
        out = self._attend(q, k, v)
        return self.out_proj(self._recombine_heads(out))

    @shape_checked
    def attention_weights(
        self,
        q: Float[Tensor, "B N_q {self.embedding_dim}"],
        k: Float[Tensor, "B N_k {self.embedding_dim}"],
    ) -> Float[Tensor, "B {self.num_heads} N_q N_k"]:
        """The attention weights `forward` applies for these queries and keys, per head: for
        looking at what attends to what. `forward` never stores them: its fused
        `scaled_dot_product_attention` applies them to the values as it computes them."""
        return self._attention_weights(*self._query_and_key_heads(q, k))
