"""Pixel-by-pixel comparisons of image-to-image outputs with their targets, and the baselines.

Image-to-image GANs (pix2pix, super-resolution, inpainting, CycleGAN, CoGAN)
have a ground truth for each output, so their papers score them pixel by
pixel (L1, PSNR, SSIM, CoGAN's pixel agreement) beside a baseline that needs
no training (bicubic upsampling, filling the hole with a mean image). A GAN
that does not beat its baseline has learned nothing a user would pay for.

Images are float arrays in [-1, 1] (data range 2), NHWC, with 1 or 3
channels. Scores are computed per image in float64 and returned as
`(mean, std)` over images (population std), like the feature metrics in
`metrics.py`. Only numpy, Pillow and scikit-image are used, so the module
loads where TensorFlow cannot (the accelerator machine, the JAX backend).
Bad inputs raise a one-line `PipelineError`.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from pipeline.errors import PipelineError

# The pipeline's images lie in [-1, 1] (a tanh generator's output).
DATA_RANGE = 2.0
# PSNR of an exact match is infinite; every per-image PSNR is capped here so
# means stay finite and a near-exact match never outscores an exact one.
# Real comparisons sit at 15-40 dB, far below it; 100 dB means an RMS error
# of 2e-5 at range 2, about float32's resolution near 1.
PSNR_MAX_DB = 100.0
# Wang et al. 2004: an 11x11 Gaussian window of sigma 1.5 (scikit-image
# truncates its filter at 3.5 sigma, which gives the same 11 taps), K1 = 0.01,
# K2 = 0.03, population (not sample) covariance.
SSIM_SETTINGS = {
    "gaussian_weights": True,
    "sigma": 1.5,
    "use_sample_covariance": False,
    "K1": 0.01,
    "K2": 0.03,
}
SSIM_WINDOW = 11
CHANNELS = (1, 3)


def _check_images(images: np.ndarray, name: str) -> np.ndarray:
    """`images` as a float64 NHWC array, or a one-line error saying what is wrong."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4 or images.shape[-1] not in CHANNELS:
        raise PipelineError(
            f"{name}: expected images of shape (N, H, W, C) with C in {CHANNELS}, "
            f"got shape {images.shape}"
        )
    if images.size == 0:
        raise PipelineError(f"{name}: no images (shape {images.shape})")
    bad = int(images.size - np.count_nonzero(np.isfinite(images)))
    if bad:
        # A diverged generator gives NaN; any score of it would be meaningless.
        raise PipelineError(f"{name}: {bad} NaN or infinite pixel values")
    return images


def _check_image_pair(
    images_a: np.ndarray, images_b: np.ndarray, names: tuple[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays checked, and of one shape, since pixels are compared one to one."""
    images_a = _check_images(images_a, names[0])
    images_b = _check_images(images_b, names[1])
    if images_a.shape != images_b.shape:
        raise PipelineError(
            f"shapes differ: {names[0]} has {images_a.shape}, {names[1]} has {images_b.shape}"
        )
    return images_a, images_b


def _check_mask(mask: np.ndarray | None, image_shape: tuple[int, ...]) -> np.ndarray | None:
    """A boolean (H, W) mask selecting at least one pixel, or None for the whole image.

    Only booleans are accepted: an integer 0/1 array used as an index would
    pick rows 0 and 1 instead of the masked pixels.
    """
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise PipelineError(f"mask: expected a boolean (H, W) array, got dtype {mask.dtype}")
    if mask.shape != tuple(image_shape[1:3]):
        raise PipelineError(
            f"mask: shape {mask.shape} does not match the images' (H, W) = {image_shape[1:3]}"
        )
    if not mask.any():
        raise PipelineError("mask: selects no pixel")
    return mask


def _check_data_range(data_range: float) -> None:
    if not data_range > 0:
        raise PipelineError(f"data_range: must be positive, got {data_range}")


def _per_image_mean(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Mean of each image's values (N, H, W, C) over its pixels and channels, or the masked ones."""
    if mask is None:
        return values.mean(axis=(1, 2, 3))
    # values[:, mask] has shape (N, masked pixels, C).
    return values[:, mask].mean(axis=(1, 2))


def _mean_std(per_image: np.ndarray) -> tuple[float, float]:
    return float(per_image.mean()), float(per_image.std())


def l1_error(
    outputs: np.ndarray, targets: np.ndarray, mask: np.ndarray | None = None
) -> tuple[float, float]:
    """Mean absolute pixel error, pix2pix's reconstruction term and check.

    Args:
        outputs: generated images, (N, H, W, C) in [-1, 1].
        targets: the ground truth for each output, the same shape.
        mask: optional boolean (H, W); only its pixels count (an inpainted hole).

    Returns:
        `(mean, std)` over images of each image's mean |output - target|.

    Raises:
        PipelineError: bad shapes, NaN, no images or a bad mask, in one line.
    """
    outputs, targets = _check_image_pair(outputs, targets, ("outputs", "targets"))
    mask = _check_mask(mask, outputs.shape)
    return _mean_std(_per_image_mean(np.abs(outputs - targets), mask))


def psnr(
    outputs: np.ndarray,
    targets: np.ndarray,
    mask: np.ndarray | None = None,
    data_range: float = DATA_RANGE,
) -> tuple[float, float]:
    """Peak signal-to-noise ratio in dB, 10 log10(data_range^2 / MSE), per image.

    Averaged over images in dB (the per-image convention of the SR papers),
    not computed from the mean MSE, which would let a few bad images dominate.
    Each image's value is capped at `PSNR_MAX_DB` (100 dB), so an exact match
    (MSE 0) gives 100, not inf, and means stay finite.

    Args:
        outputs: generated images, (N, H, W, C).
        targets: the ground truth for each output, the same shape.
        mask: optional boolean (H, W); the MSE is taken over its pixels only.
        data_range: max - min of the pixel values, 2 for [-1, 1].

    Returns:
        `(mean, std)` over images of each image's PSNR in dB.

    Raises:
        PipelineError: bad shapes, NaN, no images, a bad mask or data range.
    """
    outputs, targets = _check_image_pair(outputs, targets, ("outputs", "targets"))
    mask = _check_mask(mask, outputs.shape)
    _check_data_range(data_range)
    mse = _per_image_mean((outputs - targets) ** 2, mask)
    with np.errstate(divide="ignore"):  # MSE 0 gives inf, capped below
        decibels = 10.0 * np.log10(data_range**2 / mse)
    return _mean_std(np.minimum(decibels, PSNR_MAX_DB))


def _bounding_box(mask: np.ndarray) -> tuple[slice, slice]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _check_ssim_size(height: int, width: int, what: str) -> None:
    """Refuse regions smaller than the window rather than shrink it.

    A smaller window would give numbers that no paper's SSIM can be compared
    with; no image of this pipeline's tasks (28x28 outputs, a 14x14 hole) is
    that small.
    """
    if min(height, width) < SSIM_WINDOW:
        raise PipelineError(
            f"ssim: {what} is {height}x{width}, smaller than the {SSIM_WINDOW}x{SSIM_WINDOW} "
            f"Gaussian window of Wang et al.; use l1_error or psnr for it"
        )


def ssim(
    outputs: np.ndarray,
    targets: np.ndarray,
    mask: np.ndarray | None = None,
    data_range: float = DATA_RANGE,
) -> tuple[float, float]:
    """Structural similarity (Wang et al. 2004) per image, with the paper's settings.

    Computed by scikit-image's `structural_similarity`, the maintained
    reference implementation, with the settings in `SSIM_SETTINGS`. RGB
    images get the mean of the per-channel SSIMs (scikit-image's
    `channel_axis`); SR papers often score the luminance (Y) channel instead,
    which a caller gets by converting to one channel first.

    Without a mask, an image's SSIM is scikit-image's: the mean of the SSIM
    map without the 5-pixel border strip, where the window hangs over the
    edge. With a mask, the mask's bounding box is compared as an image of
    its own and its SSIM map (`full=True`, reflected at the box's edges) is
    averaged over the masked pixels. So pixels outside the box never count;
    for a box mask (the inpainting hole) no pixel outside the mask does. The
    border strip is kept there: a 14x14 hole would otherwise leave 4x4 pixels.
    So a mask of the whole image gives a slightly different value than none.

    Args:
        outputs: generated images, (N, H, W, C), H and W at least 11.
        targets: the ground truth for each output, the same shape.
        mask: optional boolean (H, W) whose bounding box is at least 11x11.
        data_range: max - min of the pixel values, 2 for [-1, 1]; the values
            are taken to be centred on 0 and are shifted to [0, data_range].

    Returns:
        `(mean, std)` over images of each image's SSIM, 1 for a perfect match.

    Raises:
        PipelineError: bad shapes, NaN, no images, a bad mask or data range, or
            an image (a mask's bounding box) smaller than the 11x11 window.
    """
    outputs, targets = _check_image_pair(outputs, targets, ("outputs", "targets"))
    mask = _check_mask(mask, outputs.shape)
    _check_data_range(data_range)
    # Imported here: scikit-image's import costs about 0.4 s, which the
    # other metrics should not pay for.
    from skimage.metrics import structural_similarity

    settings = {**SSIM_SETTINGS, "data_range": data_range, "channel_axis": -1}
    # SSIM's luminance term assumes intensities in [0, data_range]: on images
    # centred on 0, two means of opposite sign make it negative, and times the
    # structure term's -1 an image and its negative would score about 0.8.
    outputs, targets = outputs + data_range / 2, targets + data_range / 2
    if mask is None:
        _check_ssim_size(*outputs.shape[1:3], "the image")
        scores = [
            structural_similarity(out, tgt, **settings)
            for out, tgt in zip(outputs, targets, strict=True)
        ]
        return _mean_std(np.asarray(scores, dtype=np.float64))
    rows, cols = _bounding_box(mask)
    inside = mask[rows, cols]
    _check_ssim_size(*inside.shape, "the mask's bounding box")
    scores = []
    for out, tgt in zip(outputs[:, rows, cols], targets[:, rows, cols], strict=True):
        _, ssim_map = structural_similarity(out, tgt, full=True, **settings)
        scores.append(ssim_map[inside].mean(dtype=np.float64))
    return _mean_std(np.asarray(scores, dtype=np.float64))


def pixel_agreement(a: np.ndarray, b: np.ndarray, threshold: float = 0.0) -> float:
    """CoGAN's pixel agreement ratio (Liu & Tuzel 2016) of paired images.

    Both are binarised (a pixel is on when it is above `threshold`) and the
    share of pixels, over all images and channels, that agree is returned.
    CoGAN maps one domain's output onto the other's first (for the negative
    digits, b = -output); that transform is the caller's.

    Args:
        a: images of the first domain, (N, H, W, C).
        b: the paired images of the second domain, the same shape.
        threshold: the binarisation level; 0 is mid-range in [-1, 1].

    Returns:
        The agreement ratio in [0, 1].

    Raises:
        PipelineError: bad shapes, NaN or no images, in one line.
    """
    a, b = _check_image_pair(a, b, ("a", "b"))
    return float(np.mean((a > threshold) == (b > threshold)))


def foreground_agreement(a: np.ndarray, b: np.ndarray, threshold: float = 0.0) -> float:
    """Intersection over union of the paired images' binarised foreground.

    The pixel agreement ratio counts the background too, and on digits most
    pixels are background: two unrelated digits agree on about 0.99 of them.
    Here only the foreground counts, the binarised value that is the minority
    over both sets (ink on black digits, the dark strokes of their negatives).

    Args:
        a: images of the first domain, (N, H, W, C).
        b: the paired images of the second domain, the same shape.
        threshold: the binarisation level; 0 is mid-range in [-1, 1].

    Returns:
        |fg(a) & fg(b)| / |fg(a) | fg(b)| in [0, 1]; 1 where neither has any foreground.

    Raises:
        PipelineError: bad shapes, NaN or no images, in one line.
    """
    a, b = _check_image_pair(a, b, ("a", "b"))
    on_a, on_b = a > threshold, b > threshold
    # The foreground is whichever binarised value is rarer over both image sets.
    ink_is_on = (on_a.mean() + on_b.mean()) / 2 <= 0.5
    fg_a, fg_b = (on_a, on_b) if ink_is_on else (~on_a, ~on_b)
    union = np.logical_or(fg_a, fg_b).sum()
    return 1.0 if union == 0 else float(np.logical_and(fg_a, fg_b).sum() / union)


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    try:
        height, width = (int(side) for side in size)
    except (TypeError, ValueError):
        raise PipelineError(f"size: expected (height, width), got {size!r}") from None
    if height < 1 or width < 1:
        raise PipelineError(f"size: both sides must be positive, got {size!r}")
    return height, width


def bicubic_upsample(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bicubic upsampling, the super-resolution baseline of the SRGAN paper.

    Pillow's BICUBIC on float ('F' mode) images, one channel at a time: the
    Keys kernel with a = -0.5 on pixel centres, as MATLAB's `imresize`, the
    SR papers' standard. Away from the borders the two agree exactly; at the
    borders Pillow drops the taps outside the image and renormalises where
    MATLAB mirrors them. scipy.ndimage.zoom(order=3) was not used: it
    interpolates with a cubic B-spline on corner-aligned grids, which no SR
    paper's baseline does. Cubic overshoot at edges is clipped to [-1, 1].

    Args:
        images: low-resolution images, (N, h, w, C) in [-1, 1].
        size: the output (H, W).

    Returns:
        float32 images of shape (N, H, W, C) in [-1, 1].

    Raises:
        PipelineError: bad images or size, in one line.
    """
    images = _check_images(images, "images").astype(np.float32)
    height, width = _check_size(size)
    upsampled = np.empty((len(images), height, width, images.shape[-1]), dtype=np.float32)
    for i, image in enumerate(images):
        for channel in range(images.shape[-1]):
            plane = Image.fromarray(np.ascontiguousarray(image[..., channel]))
            resized = plane.resize((width, height), Image.Resampling.BICUBIC)
            upsampled[i, ..., channel] = np.asarray(resized)
    return np.clip(upsampled, -1.0, 1.0)


def mean_fill(images: np.ndarray, mask: np.ndarray, fill: float | np.ndarray) -> np.ndarray:
    """The inpainting baseline: the masked pixels replaced by `fill`.

    With `fill` the per-pixel mean of the training targets, this is the
    context-free guess with the least expected squared error (the best PSNR);
    the per-pixel median is the one with the least L1 error. A generator must
    beat it to show that it uses the surrounding pixels.

    Args:
        images: images with a hole, (N, H, W, C).
        mask: boolean (H, W), True on the hole.
        fill: a scalar, or an array broadcastable to the images (e.g. an
            (H, W, C) mean image).

    Returns:
        float32 copies of `images` with the masked pixels taken from `fill`;
        every other pixel unchanged.

    Raises:
        PipelineError: bad images, mask or fill, in one line.
    """
    filled = _check_images(images, "images").astype(np.float32)
    if mask is None:
        raise PipelineError("mask: mean_fill needs a boolean (H, W) mask of the hole")
    mask = _check_mask(mask, filled.shape)
    fill = np.asarray(fill, dtype=np.float32)
    try:
        fill = np.broadcast_to(fill, filled.shape)
    except ValueError:
        raise PipelineError(
            f"fill: shape {fill.shape} does not broadcast to the images' {filled.shape}"
        ) from None
    if not np.isfinite(fill[:, mask]).all():
        raise PipelineError("fill: NaN or infinite values under the mask")
    filled[:, mask] = fill[:, mask]
    return filled


def box_mask(height: int, width: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """A boolean (height, width) mask, True inside `box` = (top, left, box_height, box_width).

    For example, the centred 14x14 inpainting hole of a 28x28 image is
    `box_mask(28, 28, (7, 7, 14, 14))`.

    Raises:
        PipelineError: a box that is empty or reaches outside the image.
    """
    try:
        top, left, box_height, box_width = (int(value) for value in box)
    except (TypeError, ValueError):
        raise PipelineError(f"box: expected (top, left, height, width), got {box!r}") from None
    if (
        box_height < 1
        or box_width < 1
        or top < 0
        or left < 0
        or top + box_height > height
        or left + box_width > width
    ):
        raise PipelineError(
            f"box: (top, left, height, width) = {tuple(box)} must be non-empty and lie "
            f"inside the {height}x{width} image"
        )
    mask = np.zeros((height, width), dtype=bool)
    mask[top : top + box_height, left : left + box_width] = True
    return mask
