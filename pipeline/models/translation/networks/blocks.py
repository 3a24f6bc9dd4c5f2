"""Stock-layer building blocks the translation networks share.

Each is a few stock Keras layers, never a custom layer, so that a saved
network reloads without project code: instance normalisation, reflection
padding and the sub-pixel (pixel-shuffle) upsampling of SRGAN have no layer
of their own in Keras 3.
"""

from __future__ import annotations

from typing import Literal

from pipeline.lazy import layers

Norm = Literal["batch", "instance", "none"]

# PyTorch's InstanceNorm2d epsilon, which the CycleGAN reference code uses
# (Keras' GroupNormalization defaults to 1e-3).
INSTANCE_NORM_EPSILON = 1e-5


def instance_norm(name: str):
    """Instance normalisation (Ulyanov et al. 2016): each example's channel over H and W.

    `GroupNormalization(groups=-1)` makes one group per channel, which is
    exactly that (tests/test_translation_networks.py checks it against
    numpy); its learned scale and offset are the affine variant.
    """
    return layers.GroupNormalization(groups=-1, epsilon=INSTANCE_NORM_EPSILON, name=name)


def normalization(norm: Norm, name: str):
    """The normalisation layer `norm` names, or None for "none"."""
    if norm == "batch":
        return layers.BatchNormalization(name=name)
    if norm == "instance":
        return instance_norm(name)
    return None


def reflection_pad(x, pad: int, name: str):
    """`x` (N, H, W, C) padded by `pad` on each side with its mirror image (numpy's "reflect").

    Keras 3 has no reflection-padding layer and `keras.ops.pad` is not a
    layer, so each mirrored row and column is cut out with Cropping2D and
    the pieces joined with Concatenate: stock layers only. Needs `pad` < H, W.
    """
    x = _reflect_along(x, pad, axis=1, name=f"{name}_rows")
    return _reflect_along(x, pad, axis=2, name=f"{name}_cols")


def _reflect_along(x, pad: int, axis: int, name: str):
    size = x.shape[axis]

    def line(index: int, label: str):
        # The one row (axis 1) or column (axis 2) at `index`.
        keep = (index, size - index - 1)
        cropping = (keep, (0, 0)) if axis == 1 else ((0, 0), keep)
        return layers.Cropping2D(cropping, name=f"{name}_{label}")(x)

    # numpy.pad(mode="reflect"): [x_p, ..., x_1] + x + [x_{n-2}, ..., x_{n-1-p}].
    before = [line(i, f"before_{i}") for i in range(pad, 0, -1)]
    after = [line(size - 1 - i, f"after_{i}") for i in range(1, pad + 1)]
    return layers.Concatenate(axis=axis, name=name)([*before, x, *after])


def pixel_shuffle(x, factor: int, name: str):
    """Depth to space: (N, H, W, r*r*C) -> (N, r*H, r*W, C), TensorFlow's channel order.

    Output pixel (r*h + i, r*w + j, c) is input (h, w, (i*r + j)*C + c), as
    `tf.nn.depth_to_space` (DCR order) and `keras.ops.depth_to_space` compute
    it. Done with Reshape and Permute, since Keras has no such layer: split
    the channels into (i, j, c), move i beside h and j beside w, merge.
    """
    height, width, channels = x.shape[1:]
    if channels % (factor * factor):
        raise ValueError(f"pixel shuffle by {factor} needs channels divisible by {factor**2}")
    depth = channels // (factor * factor)
    x = layers.Reshape((height, width, factor, factor, depth), name=f"{name}_split")(x)
    # Axes (h, w, i, j, c) -> (h, i, w, j, c); Permute counts from 1, after the batch.
    x = layers.Permute((1, 3, 2, 4, 5), name=f"{name}_interleave")(x)
    return layers.Reshape((height * factor, width * factor, depth), name=name)(x)
