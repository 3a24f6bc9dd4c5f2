"""What an image-to-image generator is given (the user's images, read and checked), and its run.

`--input` is a folder of PNG, JPEG or WebP files or an `.npz` with an
`images` array. Everything is read and checked before the model loads, and
compared with the generator's input once it has: a bad file is one line
naming it, and nothing is written.

- A folder: the files ending in .png, .jpg, .jpeg or .webp (any case),
  sorted by name; dot files and anything else are skipped. Each is read as
  stored by `pipeline.data.sources.decode.read_as_is`, with the checks of
  the `folder` source (an empty file, another format by content, 16 bits
  per channel and transparency are refused), and must be grayscale (Pillow
  mode L) or RGB, all of one size and mode. Other modes (RGBA, LA, a
  palette, CMYK) are refused rather than converted: dropping an alpha
  channel or mapping a palette is a choice about the input, and the user
  should make it (Pillow's `Image.convert`). The output of `a.png` is named
  after its stem, so `a.png` and `a.jpg` together are refused.
- An .npz: `images` of shape (N, H, W, C), or (N, H, W) for one channel.
  The dtype says the scale, never the values: uint8 is 0..255, a float
  dtype must already lie in [-1, 1] (a float array of 0..255 is refused,
  not guessed). Outputs are named by index, `00000`, `00001`, ...

numpy, Pillow and the image reader are imported inside the functions:
`check_input_path` runs while the command line is checked, before anything
heavy loads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import PipelineError, typed_first_line

if TYPE_CHECKING:
    import keras
    import numpy as np

NPZ_KEY = "images"
MAX_INPUT_BYTES = 4 * 2**30  # the inputs are held in memory as float32
INDEX_DIGITS = 5  # the names of an .npz's images: 00000, 00001, ...


@dataclass(frozen=True)
class ImageInputs:
    """The user's images, ready for the generator."""

    source: Path  # --input
    images: np.ndarray  # float32 NHWC in [-1, 1]
    names: tuple[str, ...]  # each output's name without suffix (a file's stem, or its index)
    where: str  # the first file's name, or `images`: what a message about the shape names

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(size) for size in self.images.shape[1:])


def check_input_path(path: Path) -> None:
    """The cheap check, while the command line is checked: a folder or an existing .npz."""
    if not path.exists():
        raise PipelineError(f"--input {path}: no such file or folder")
    if not path.is_dir() and not (path.is_file() and path.suffix.lower() == ".npz"):
        raise PipelineError(
            f"--input {path}: not a folder or an .npz file (allowed: a folder of PNG, JPEG or "
            f"WebP images, or an .npz holding `{NPZ_KEY}`)"
        )


def read_inputs(path: Path) -> ImageInputs:
    """Read `--input`, a folder of images or an .npz; one line naming what is wrong."""
    check_input_path(path)
    return _read_folder(path) if path.is_dir() else _read_npz(path)


def check_fits(inputs: ImageInputs, expected: tuple[int, int, int], model: str) -> None:
    """Refuse images the generator cannot take, naming the file, its shape and the expected one."""
    if inputs.shape != tuple(expected):
        raise PipelineError(
            f"--input {inputs.source}: {inputs.where} has shape {inputs.shape} "
            f"({_kind(inputs.shape[-1])}), but {model} takes images of shape "
            f"{tuple(expected)} ({_kind(expected[-1])})"
        )


def _kind(channels: int) -> str:
    return {1: "grayscale", 3: "RGB"}.get(channels, f"{channels} channels")


# --- a folder ---------------------------------------------------------------------------


def _image_files(folder: Path) -> list[Path]:
    """The folder's image files, sorted by name; one line if there are none."""
    from pipeline.data.sources.decode import SUFFIXES, image_files_in

    files = image_files_in(folder)
    if not files:
        raise PipelineError(
            f"--input {folder}: holds no images (allowed: a folder of {', '.join(SUFFIXES)} "
            "files, any case)"
        )
    stems: dict[str, str] = {}
    for entry in files:
        if entry.stem in stems:
            raise PipelineError(
                f"--input {folder}: {stems[entry.stem]} and {entry.name} would both be "
                f"written as {entry.stem}.png (allowed: one image per name)"
            )
        stems[entry.stem] = entry.name
    return files


def _read_folder(folder: Path) -> ImageInputs:
    """Every image, decoded and checked against the first: one mode, one size."""
    import numpy as np

    files = _image_files(folder)
    first = _read_image(folder, files[0])
    needed = len(files) * first.size * 4
    if needed > MAX_INPUT_BYTES:
        raise PipelineError(
            f"--input {folder}: {len(files)} images of shape {first.shape} need "
            f"{needed / 2**30:.1f} GiB as float32 (allowed: up to "
            f"{MAX_INPUT_BYTES / 2**30:.0f} GiB; translate them in smaller folders)"
        )
    pixels = np.empty((len(files), *first.shape), dtype=np.uint8)
    pixels[0] = first
    for index, path in enumerate(files[1:], start=1):
        image = _read_image(folder, path)
        if image.shape != first.shape:
            raise PipelineError(
                f"--input {folder}: {files[0].name} has shape {first.shape} but {path.name} "
                f"has {image.shape} (allowed: images of one size and one mode)"
            )
        pixels[index] = image
    names = tuple(path.stem for path in files)
    return ImageInputs(folder, _from_uint8(pixels), names, files[0].name)


def _read_image(folder: Path, path: Path) -> np.ndarray:
    """One image as uint8 HWC, as stored; one line naming it if it is refused."""
    from pipeline.data.sources.decode import read_as_is

    pixels = read_as_is(path)
    if isinstance(pixels, str):
        raise PipelineError(f"--input {folder}: {path.name}: {pixels}")
    return pixels


def _from_uint8(pixels: np.ndarray) -> np.ndarray:
    """0..255 to float32 [-1, 1], exactly as the prepared data is read."""
    from pipeline.data.stream import scaled

    return scaled(pixels)


# --- an .npz ----------------------------------------------------------------------------


def _read_npz(path: Path) -> ImageInputs:
    """`images` of the archive, scaled by its dtype, with index names."""
    images = _npz_images(path)
    if images.ndim == 3:
        images = images[..., None]  # (N, H, W): one channel
    if images.ndim != 4 or len(images) == 0:
        raise PipelineError(
            f"--input {path}: `{NPZ_KEY}` has shape {images.shape} (allowed: (N, H, W, C) or "
            "(N, H, W), at least one image)"
        )
    if images.size * 4 > MAX_INPUT_BYTES:
        raise PipelineError(
            f"--input {path}: `{NPZ_KEY}` of shape {images.shape} needs more than "
            f"{MAX_INPUT_BYTES / 2**30:.0f} GiB as float32 (allowed: up to that; split it)"
        )
    digits = max(INDEX_DIGITS, len(str(len(images) - 1)))
    names = tuple(f"{index:0{digits}d}" for index in range(len(images)))
    return ImageInputs(path, _scaled(images, path), names, f"`{NPZ_KEY}`")


def _npz_images(path: Path) -> np.ndarray:
    """The archive's `images` array, or one line: not an archive, no such array."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as archive:
            if NPZ_KEY not in archive.files:
                found = ", ".join(archive.files) or "nothing"
                raise PipelineError(
                    f"--input {path}: holds no `{NPZ_KEY}` array (found: {found}; allowed: "
                    f"an .npz with `{NPZ_KEY}`, uint8 0..255 or float in [-1, 1])"
                )
            return archive[NPZ_KEY]
    except PipelineError:
        raise
    except Exception as err:  # not a zip, a pickled object array, a damaged member
        raise PipelineError(
            f"--input {path}: cannot be read as an .npz archive ({typed_first_line(err)})"
        ) from None


def _scaled(images: np.ndarray, path: Path) -> np.ndarray:
    """uint8 0..255, or floats already in [-1, 1], as float32 [-1, 1]; anything else refused."""
    import numpy as np

    if images.dtype == np.uint8:
        return _from_uint8(images)
    if not np.issubdtype(images.dtype, np.floating):
        raise PipelineError(
            f"--input {path}: `{NPZ_KEY}` is {images.dtype} (allowed: uint8 for 0..255, or "
            "a float dtype in [-1, 1])"
        )
    if not np.isfinite(images).all():
        raise PipelineError(f"--input {path}: `{NPZ_KEY}` holds NaN or infinite values")
    if images.min() < -1 or images.max() > 1:
        raise PipelineError(
            f"--input {path}: `{NPZ_KEY}` is {images.dtype} with values from "
            f"{images.min():g} to {images.max():g} (allowed: floats in [-1, 1]; save 0..255 "
            "pixels as uint8)"
        )
    return images.astype(np.float32)


def translated_batches(
    generator: keras.Model, images: np.ndarray, batch_size: int, model: str
) -> Iterator[np.ndarray]:
    """The translations as float32 batches, checked finite, one batch at a time."""
    from pipeline.sampling import translate
    from pipeline.saved_models import require_finite

    for start in range(0, len(images), batch_size):
        part = images[start : start + batch_size]
        yield require_finite(translate(generator, part, batch_size), model)
