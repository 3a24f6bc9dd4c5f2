"""Self-attention (SAGAN, Zhang et al. 2019), an option of the convolutional network kinds.

One block in G and one in D, at the feature map whose height
`attention_resolution` names, lets every position draw on every other:
convolutions alone link distant parts of an image only through many layers.

The block is made of stock layers (no custom layer to register), so a saved
generator with attention still reloads with Keras alone:

    x (N, H, W, C) -> Reshape (N, H*W, C) -> MultiHeadAttention (one head,
    key size max(C // 8, 1), as SAGAN's C/8 query and key convolutions)
    -> Reshape (N, H, W, C) -> 1x1 Conv2D, kernel zero-initialised -> + x

The zero kernel plays SAGAN's gamma = 0: the block starts as the identity,
and the network learns how much attention to mix in.
"""

from __future__ import annotations

from pipeline.lazy import layers
from pipeline.models.conditioning.base import Conditioning
from pipeline.models.networks.base import Network
from pipeline.models.networks.layout import feature_resolutions, start_size
from pipeline.schema import PositiveInt


def self_attention(x, name: str = "attention"):
    """The self-attention block on the map `x` (N, H, W, C), residual, identity at first.

    In D it is deliberately not passed through `wrap`: MultiHeadAttention
    holds four projections, not the single kernel Keras' SpectralNormalization
    wraps, and SpectralNormalization rescales a kernel to spectral norm 1 in
    place, which would turn the zero-initialised output convolution into a
    full-strength one after D's first step. (Dot-product attention is not
    Lipschitz anyway, Kim et al. 2021, so normalising its weights would not
    bound it.)
    """
    height, width, channels = x.shape[1:]
    tokens = layers.Reshape((height * width, channels), name=f"{name}_tokens")(x)
    attended = layers.MultiHeadAttention(
        num_heads=1, key_dim=max(channels // 8, 1), name=f"{name}_heads"
    )(tokens, tokens)
    attended = layers.Reshape((height, width, channels), name=f"{name}_map")(attended)
    attended = layers.Conv2D(channels, 1, kernel_initializer="zeros", name=f"{name}_out")(attended)
    return layers.Add(name=f"{name}_residual")([x, attended])


class SelfAttentionOption(Network):
    """A convolutional network kind that can carry one self-attention block per network.

    For kinds on the doubling ladder of `layout.start_size` (their feature
    maps are its rungs); `check` refuses an image size off the ladder.

    Attributes:
        attention_resolution: the height of the feature map that gets the
            block, in G and in D; None for none. Which heights a network has
            depends on the image size, known only when it is built: `build`
            refuses any other with a ValueError.
    """

    attention_resolution: PositiveInt | None = None

    def attention_resolutions(self, image_shape: tuple[int, int, int]) -> list[int]:
        """The values `attention_resolution` may take for this image size (None aside)."""
        return feature_resolutions(image_shape, self.kind)

    def check_attention(self, image_shape: tuple[int, int, int]) -> None:
        """Refuse an `attention_resolution` this image size's networks do not have.

        Raises:
            ValueError: naming the key, its value and the allowed heights.
        """
        allowed = self.attention_resolutions(image_shape)
        if self.attention_resolution is not None and self.attention_resolution not in allowed:
            height, width = image_shape[:2]
            raise ValueError(
                f"network.attention_resolution = {self.attention_resolution}: the {self.kind} "
                f"networks for {height}x{width} images have feature maps of heights "
                f"{allowed} (allowed: one of them, or null for no attention)"
            )

    def check(
        self, image_shape: tuple[int, int, int], conditioning: Conditioning, num_classes: int
    ) -> None:
        # The image size first: every later message assumes the networks exist.
        start_size(image_shape, self.kind)
        super().check(image_shape, conditioning, num_classes)
        self.check_attention(image_shape)

    def attend(self, x, name: str = "attention"):
        """`x` through the self-attention block if it is the chosen map, else `x` as it is.

        Called after every block of a network, so the block lands on the one
        map of the chosen height (each height occurs once per network).
        """
        if self.attention_resolution is not None and x.shape[1] == self.attention_resolution:
            return self_attention(x, name)
        return x
