"""The two-way transformer: prompt tokens and image tokens take turns attending to each other."""

from jaxtyping import Float
from torch import Tensor, nn

from samdec.attention import Attention
from samdec.common import MLPBlock
from samdec.contracts import shape_checked


class TwoWayAttentionBlock(nn.Module):
    """Four steps, each followed by a LayerNorm: (1) self-attention of the tokens, (2) tokens attend
    to the image, (3) MLP on the tokens, (4) the image attends to the tokens.

    Positional encodings are added to queries and keys again at every attention, never to values.
    The first block of the transformer skips the PE and the residual on its self-attention: its
    input tokens *are* the prompt embeddings, which already carry their positional encoding.
    """

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        mlp_dim: int = 2048,
        activation: type[nn.Module] = nn.ReLU,
        attention_downsample_rate: int = 2,
        skip_first_layer_pe: bool = False,
    ) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        # the tokens' 8 x 8 weights are too small for fusing to save anything, and the explicit
        # path keeps the official code's rounding where the softmax is sharpest
        self.self_attn = Attention(embedding_dim, num_heads, fused=False)
        self.norm1 = nn.LayerNorm(embedding_dim)

        self.cross_attn_token_to_image = Attention(
            embedding_dim, num_heads, downsample_rate=attention_downsample_rate
        )
        self.norm2 = nn.LayerNorm(embedding_dim)

        self.mlp = MLPBlock(embedding_dim, mlp_dim, activation)
        self.norm3 = nn.LayerNorm(embedding_dim)

        self.norm4 = nn.LayerNorm(embedding_dim)
        self.cross_attn_image_to_token = Attention(
            embedding_dim, num_heads, downsample_rate=attention_downsample_rate
        )

        self.skip_first_layer_pe = skip_first_layer_pe

    @shape_checked
    def forward(
        self,
        queries: Float[Tensor, "B N_tokens {self.embedding_dim}"],
        keys: Float[Tensor, "B N_image {self.embedding_dim}"],
        query_pe: Float[Tensor, "B N_tokens {self.embedding_dim}"],
        key_pe: Float[Tensor, "B N_image {self.embedding_dim}"],
    ) -> tuple[
        Float[Tensor, "B N_tokens {self.embedding_dim}"],
        Float[Tensor, "B N_image {self.embedding_dim}"],
    ]:
        # (1) self-attention of the tokens
        if self.skip_first_layer_pe:
            queries = self.self_attn(q=queries, k=queries, v=queries)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q=q, k=q, v=queries)
        queries = self.norm1(queries)

        # (2) cross-attention, tokens attending to the image; the image tokens with their PE serve
        # step (4) as well, since `keys` changes only at its very end
        q = queries + query_pe
        k = keys + key_pe
        queries = queries + self.cross_attn_token_to_image(q=q, k=k, v=keys)
        queries = self.norm2(queries)

        # (3) MLP on the tokens
        queries = queries + self.mlp(queries)
        queries = self.norm3(queries)

        # (4) cross-attention, the image attending to the tokens: queries and keys swap roles
        q = queries + query_pe
        keys = keys + self.cross_attn_image_to_token(q=k, k=q, v=queries)
        keys = self.norm4(keys)

        return queries, keys


class TwoWayTransformer(nn.Module):
    """`depth` two-way blocks, then one last token-to-image attention with its own LayerNorm."""

    def __init__(
        self,
        depth: int,
        embedding_dim: int,
        num_heads: int,
        mlp_dim: int,
        activation: type[nn.Module] = nn.ReLU,
        attention_downsample_rate: int = 2,
    ) -> None:
        super().__init__()
        self.depth = depth
        self.embedding_dim = embedding_dim
        self.num_heads = num_heads
        self.mlp_dim = mlp_dim
        self.layers = nn.ModuleList(
            TwoWayAttentionBlock(
                embedding_dim=embedding_dim,
                num_heads=num_heads,
                mlp_dim=mlp_dim,
                activation=activation,
                attention_downsample_rate=attention_downsample_rate,
                skip_first_layer_pe=(i == 0),
            )
            for i in range(depth)
        )
        self.final_attn_token_to_image = Attention(
            embedding_dim, num_heads, downsample_rate=attention_downsample_rate
        )
        self.norm_final_attn = nn.LayerNorm(embedding_dim)

    @shape_checked
    def forward(
        self,
        image_embedding: Float[Tensor, "B {self.embedding_dim} H W"],
        image_pe: Float[Tensor, "B {self.embedding_dim} H W"],
        point_embedding: Float[Tensor, "B N_tokens {self.embedding_dim}"],
    ) -> tuple[
        Float[Tensor, "B N_tokens {self.embedding_dim}"],
        Float[Tensor, "B H*W {self.embedding_dim}"],
    ]:
        # the image grid becomes a sequence of H*W image tokens: B C H W -> B H*W C
        image_embedding = image_embedding.flatten(2).permute(0, 2, 1)
        image_pe = image_pe.flatten(2).permute(0, 2, 1)

        queries, keys = point_embedding, image_embedding
        for layer in self.layers:
            queries, keys = layer(
                queries=queries, keys=keys, query_pe=point_embedding, key_pe=image_pe
            )

        # final cross-attention, tokens attending to the image
        q = queries + point_embedding
        k = keys + image_pe
        queries = queries + self.final_attn_token_to_image(q=q, k=k, v=keys)
        queries = self.norm_final_attn(queries)

        return queries, keys
