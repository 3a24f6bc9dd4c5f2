"""Conditioning by concatenation (Mirza & Osindero 2014): the label joins each network's input."""

from __future__ import annotations

from typing import Literal

from pipeline.lazy import layers
from pipeline.models.conditioning.label_inputs import ClassConditioning, one_hot


class Concatenation(ClassConditioning):
    """The one-hot label joined to z in G and to the image in D.

    In D it joins the flattened image (an MLP, rank 2), or, for a
    convolutional network (rank 4), is tiled over the image as K extra
    channels, so that every convolution of the first layer sees it.
    """

    kind: Literal["concat"] = "concat"

    def discriminator_input(self, x, label, num_classes: int):
        encoded = one_hot(label, num_classes)
        if len(x.shape) == 2:
            return layers.Concatenate(name="pixels_label")([x, encoded])
        if len(x.shape) != 4:
            raise ValueError(
                f"concat conditioning joins the label to a flat (N, F) or a map (N, H, W, C) "
                f"input, got shape {tuple(x.shape)}"
            )
        height, width = x.shape[1:3]
        # Nearest upsampling of a 1x1 map is an exact tile.
        planes = layers.Reshape((1, 1, num_classes), name="label_planes")(encoded)
        planes = layers.UpSampling2D((height, width), name="label_tiled")(planes)
        return layers.Concatenate(name="image_label")([x, planes])
