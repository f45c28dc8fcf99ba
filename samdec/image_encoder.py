"""A small convolutional image encoder standing in for SAM's ViT.

SAM's image encoder is a ViT (91M to 636M parameters, trained for days on a GPU cluster) that turns
the padded 1024 x 1024 photo into a 256-channel embedding on a 64 x 64 grid. That cannot be trained
on a CPU in an hour, and its weights cannot be downloaded here. The decoder never sees the encoder,
only its [1, 256, 64, 64] output, so this stand-in keeps exactly that interface (`img_size = 1024`,
16 pixels per grid cell, 256 channels) with a network small enough to train beside the decoder.
"""

from jaxtyping import Float
from torch import Tensor, nn

from samdec.common import LayerNorm2d
from samdec.contracts import shape_checked

PATCH_SIZE = 16  # input pixels per embedding-grid cell, as the ViT's patch size


class ConvNeXtBlock(nn.Module):
    """Depthwise 7x7 convolution (looks around), then a per-pixel MLP (mixes channels); residual."""

    def __init__(self, channels: int, expansion: int = 4) -> None:
        super().__init__()
        self.channels = channels
        self.depthwise = nn.Conv2d(channels, channels, kernel_size=7, padding=3, groups=channels)
        self.norm = LayerNorm2d(channels)
        self.expand = nn.Conv2d(channels, expansion * channels, kernel_size=1)
        self.act = nn.GELU()
        self.project = nn.Conv2d(expansion * channels, channels, kernel_size=1)

    @shape_checked
    def forward(
        self, x: Float[Tensor, "B {self.channels} H W"]
    ) -> Float[Tensor, "B {self.channels} H W"]:
        return x + self.project(self.act(self.expand(self.norm(self.depthwise(x)))))


class StandInImageEncoder(nn.Module):
    """Padded, normalised B x 3 x 1024 x 1024 photos to B x 256 x 64 x 64 image embeddings.

    Three stages bring the resolution down 4x, 2x and 2x (1024 -> 256 -> 128 -> 64), the last two
    with ConvNeXt blocks; a neck widens to the decoder's 256 channels and normalises them, as SAM's
    ViT neck does. About 1.4M parameters. `img_size` may be set smaller (training's first stage
    uses 512 and a 32 x 32 grid); the weights do not depend on it.
    """

    def __init__(self, img_size: int = 1024, out_chans: int = 256, widths=(64, 128, 256)) -> None:
        super().__init__()
        self.img_size = img_size
        self.out_chans = out_chans
        narrow, middle, wide = widths
        self.stem = nn.Sequential(
            nn.Conv2d(3, narrow, kernel_size=4, stride=4), LayerNorm2d(narrow), nn.GELU()
        )
        self.stage2 = nn.Sequential(
            nn.Conv2d(narrow, middle, kernel_size=2, stride=2), ConvNeXtBlock(middle, expansion=2)
        )
        self.stage3 = nn.Sequential(
            nn.Conv2d(middle, wide, kernel_size=2, stride=2),
            *(ConvNeXtBlock(wide) for _ in range(2)),
        )
        self.neck = nn.Sequential(nn.Conv2d(wide, out_chans, kernel_size=1), LayerNorm2d(out_chans))

    @shape_checked
    def forward(
        self, x: Float[Tensor, "B 3 {self.img_size} {self.img_size}"]
    ) -> Float[Tensor, "B {self.out_chans} {self.img_size//16} {self.img_size//16}"]:
        return self.neck(self.stage3(self.stage2(self.stem(x))))
