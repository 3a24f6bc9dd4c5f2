"""Generate or translate images with a trained generator: `python -m pipeline.generate MODEL ...`.

MODEL is one of:

- a name listed under `models` in params.yaml: `<paths.models>/<name>/generator.keras`,
  the folder dvc.yaml publishes it to (`trained/`);
- a path to a `.keras` file, or to a folder holding an MLflow model (`MLmodel`);
- an MLflow URI: `models:/<model_id>`, `models:/<name>/<version>` (each training
  registers a new version of its model's name; `models:/gan/latest` is the newest)
  or `runs:/<run_id>/<name>`, read from the
  project's store (`MLFLOW_TRACKING_URI`, else the repository's `mlflow/mlflow.db`).

A noise-to-image generator draws N images: `-n N --out PATH`. `--out DIR`
writes one PNG per image (`00012.png`, or `00012_label3.png` and a
`labels.csv` for a conditional generator); `--out FILE.npz` writes one archive
with `images`, `z` and, for a conditional generator, `labels`. The same model,
seed and labels give the same images (`pipeline.generation.noise`).

`--truncation PSI` is BigGAN's truncation trick, for any noise generator,
conditional or not: every component of z with |z| > PSI is redrawn until it
lands inside, so z follows a standard normal (what every generator here
trains on) truncated to [-PSI, PSI] (`pipeline.sampling.truncated_normal`).
Smaller PSI: images closer to the generator's most typical ones, less
variety. PSI is from 0.04 (BigGAN's smallest) to 4 (about 1 component in
16,000 redrawn); without the flag nothing is redrawn and the images are
those of every earlier version. The same seed and PSI give the same images,
and the components already inside stay as they were, so lowering PSI
changes only the large ones. `z` in an .npz is the truncated latents. A
StyleGAN truncates its w instead, w_avg + PSI (w - w_avg), from z as drawn
(`pipeline.truncation`).

An image-to-image generator translates the user's images: `--input
FOLDER_OR_NPZ --out PATH` (`pipeline.generation.translation` says what it
reads). `--out DIR` writes `<stem>.png` for each input file; `--out
FILE.npz` writes `inputs`, `outputs` (float32 in [-1, 1]) and `names`. `-n`,
`--label`, `--seed`, `--truncation` and `--scale` do not apply there: it draws
no latent.

A mistake in the arguments, the inputs or the model is one line on stderr and
exit code 2, found before anything is written. This file is the command line;
its parts are in `pipeline/generation/`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from pipeline.cli import quiet_tensorflow_import, run_stage
from pipeline.errors import PipelineError, RunFailed
from pipeline.generation.models import (
    ALLOWED_MODELS,
    GeneratorSpec,
    ModelSource,
    default_seed,
    load_generator,
    model_source,
)
from pipeline.generation.outputs import (
    TRANSLATED_FILE,
    Format,
    check_npz_size,
    check_output,
    output_format,
    write_npz,
    write_png_folder,
)
from pipeline.generation.translation import ImageInputs, check_input_path, read_inputs
from pipeline.schema import MAX_TRUNCATION, MIN_TRUNCATION, SEED_LIMIT

# numpy, TensorFlow and MLflow are imported only once the arguments are valid,
# so that a bad argument costs a fraction of a second.
if TYPE_CHECKING:
    import keras
    import numpy as np

__all__ = ["build_parser", "default_seed", "main", "parse_request"]

MAX_IMAGES = 100_000  # 100 times an evaluation's samples; more is a typo (-n 1e9)
MAX_BATCH_SIZE = 65_536
DEFAULT_BATCH_SIZE = 256
DEFAULT_COUNT = 64
MAX_LABEL_DIGITS = 9
SCALES = {"255": "uint8 in [0, 255]", "1": "float32 in [0, 1]"}
EXAMPLES = """examples:
  python -m pipeline.generate gan -n 64 --out generated/gan
  python -m pipeline.generate cgan -n 1000 --label 7 --scale 1 --out generated/sevens.npz
  python -m pipeline.generate gan -n 64 --truncation 0.5 --out generated/gan_typical
  python -m pipeline.generate models:/<model_id> -n 16 --seed 1 --out generated/logged.npz
  python -m pipeline.generate pix2pix --input my_edges/ --out translated/pix2pix
"""


@dataclass(frozen=True)
class Request:
    """The checked command line."""

    source: ModelSource
    count: int
    out: Path
    format: Format
    scale: int  # 255: uint8 in [0, 255]; 1: float32 in [0, 1]
    seed: int
    labels: tuple[int, ...] | None  # cycled over the images; None: every class in turn
    truncation: float | None  # BigGAN's threshold psi; None: z as drawn
    batch_size: int
    overwrite: bool


@dataclass(frozen=True)
class TranslationRequest:
    """The checked command line with --input: an image-to-image generator's job."""

    source: ModelSource
    input: Path  # a folder of images or an .npz
    out: Path
    format: Format
    batch_size: int
    overwrite: bool


# --- the command line --------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, like every other bad input (exit 2)."""

    def error(self, message: str) -> NoReturn:
        raise PipelineError(f"{message} (see --help)")


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse `type` accepting integers in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range (allowed: {low} to {high})")
        return value

    return parse


def _truncation(text: str) -> float:
    """An argparse `type` for --truncation: a finite number in [MIN_TRUNCATION, MAX_TRUNCATION]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    # `not` catches nan, which fails every comparison.
    if not MIN_TRUNCATION <= value <= MAX_TRUNCATION:
        raise argparse.ArgumentTypeError(
            f"{text} is out of range (allowed: {MIN_TRUNCATION} to {MAX_TRUNCATION:g}, "
            "the threshold on |z|; drop --truncation for none)"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m pipeline.generate",
        description="Generate images with a trained generator, or translate --input images\n"
        "with an image-to-image one, as PNG files or one .npz.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keeps the examples' lines
    )
    parser.add_argument("model", help=ALLOWED_MODELS)
    parser.add_argument(
        "-n",
        "--num-images",
        type=_bounded_int(1, MAX_IMAGES),
        metavar="N",
        help=f"how many images (default {DEFAULT_COUNT}, at most {MAX_IMAGES:,})",
    )
    parser.add_argument(
        "--input",
        type=Path,
        metavar="FOLDER_OR_NPZ",
        help="for an image-to-image generator, the images to translate: a folder of PNG or "
        "JPEG files (sorted by name; grayscale or RGB, as the generator takes) or an .npz "
        "holding `images` (uint8 0..255, or float in [-1, 1])",
    )
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="PATH",
        help="a folder for PNG files, or a file ending in .npz for one archive",
    )
    parser.add_argument(
        "--format", choices=["png", "npz"], help="default: npz if --out ends in .npz, else png"
    )
    parser.add_argument(
        "--scale",
        choices=list(SCALES),
        help="npz pixel values: 255 = uint8 in [0, 255] (default), 1 = float32 in [0, 1]; "
        "PNG files are always 8-bit",
    )
    parser.add_argument(
        "--seed",
        type=_bounded_int(0, SEED_LIMIT - 1),
        metavar="S",
        help="seed of the latent vectors (default: `seed` in params.yaml, or 0 without one)",
    )
    parser.add_argument(
        "--label",
        action="append",
        metavar="K[,K...]",
        help="class labels for a conditional generator, repeatable or comma-separated, "
        "cycled over the images (default: 0, 1, ..., K-1, 0, ...)",
    )
    parser.add_argument(
        "--truncation",
        type=_truncation,
        metavar="PSI",
        help="BigGAN's truncation trick: redraw every latent component with |z| > PSI until "
        "it is inside (a StyleGAN: w pulled to its mean, w_avg + PSI (w - w_avg)) "
        f"({MIN_TRUNCATION} to {MAX_TRUNCATION:g}; smaller: more typical images, "
        "less variety; default: none)",
    )
    parser.add_argument(
        "--batch-size",
        type=_bounded_int(1, MAX_BATCH_SIZE),
        default=DEFAULT_BATCH_SIZE,
        metavar="B",
        help=f"images per generator call (default {DEFAULT_BATCH_SIZE})",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --out (only a folder of generated images or an .npz file)",
    )
    return parser


def parse_request(argv: Sequence[str] | None = None) -> Request | TranslationRequest:
    """Parse and check the command line; everything that needs no model is checked here."""
    args = build_parser().parse_args(argv)
    out_format = output_format(args.out, args.format)
    if args.input is not None:
        return _translation_request(args, out_format)
    if args.scale is not None and out_format == "png":
        raise PipelineError(
            f"--scale {args.scale}: applies to .npz output only; PNG files are always 8-bit "
            "(allowed: drop --scale, or write an .npz)"
        )
    count = args.num_images or DEFAULT_COUNT
    labels = parse_labels(args.label)
    if labels is not None and len(labels) > count:
        raise PipelineError(
            f"--label: {len(labels)} labels for {count} images "
            "(allowed: at most as many labels as images; they are cycled)"
        )
    check_output(args.out, out_format, args.overwrite)
    source = model_source(args.model)
    seed = args.seed if args.seed is not None else default_seed()
    return Request(
        source=source,
        count=count,
        out=args.out,
        format=out_format,
        scale=int(args.scale or 255),
        seed=seed,
        labels=labels,
        truncation=args.truncation,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
    )


def _translation_request(args: argparse.Namespace, out_format: Format) -> TranslationRequest:
    """`--input`: the noise generator's options refused, the input and --out checked."""
    options = {
        "-n": args.num_images,
        "--label": args.label,
        "--seed": args.seed,
        "--truncation": args.truncation,
        "--scale": args.scale,
    }
    given = [flag for flag, value in options.items() if value is not None]
    if given:
        raise PipelineError(
            f"{', '.join(given)}: {'does' if len(given) == 1 else 'do'} not apply with --input "
            "(an image-to-image generator translates the given images, and its .npz holds "
            "float32 in [-1, 1]; allowed: drop them)"
        )
    check_input_path(args.input)
    if args.input.resolve() == args.out.resolve():
        raise PipelineError(
            f"--out {args.out}: is the --input itself (allowed: another folder or file)"
        )
    check_output(args.out, out_format, args.overwrite, written=TRANSLATED_FILE)
    return TranslationRequest(
        source=model_source(args.model),
        input=args.input,
        out=args.out,
        format=out_format,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
    )


def parse_labels(values: list[str] | None) -> tuple[int, ...] | None:
    """`--label 3 --label 1,2` -> (3, 1, 2); the range is checked once the model is loaded."""
    if values is None:
        return None
    labels = []
    for part in ",".join(values).split(","):
        text = part.strip()
        # ASCII digits only: no sign, no empty item, and short enough for int32.
        if not (text.isascii() and text.isdigit() and len(text) <= MAX_LABEL_DIGITS):
            raise PipelineError(
                f"--label: {text!r} is not a class index (allowed: integers >= 0, "
                "repeated or comma-separated, e.g. --label 3,7)"
            )
        labels.append(int(text))
    return tuple(labels)


# --- the two jobs ---------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    request = parse_request(argv)
    # TensorFlow and MLflow are imported (in load_generator) only once the arguments,
    # and the images to translate, are valid: a mistake in them fails in well under a second.
    if isinstance(request, TranslationRequest):
        inputs = read_inputs(request.input)
        generator = load_generator(request.source, quiet_tensorflow_import)
        print(translate_images(generator, request, inputs))
    else:
        generator = load_generator(request.source, quiet_tensorflow_import)
        print(generate_images(generator, request))


def generate_images(generator: keras.Model, request: Request) -> str:
    """Draw `request.count` images from a noise generator into --out; the line that says so."""
    from pipeline.generation.models import describe_generator, translates_images
    from pipeline.images import POINT_SHAPE
    from pipeline.truncation import truncation

    if translates_images(generator):
        taken = tuple(generator.inputs[0].shape[1:])
        if request.truncation is not None:
            raise PipelineError(
                f"--truncation: {request.source.text} is an image-to-image generator (takes "
                f"images of shape {taken}) and draws no latent to truncate; allowed: a noise "
                "generator, or drop --truncation and give --input FOLDER_OR_NPZ"
            )
        raise PipelineError(
            f"{request.source.text}: an image-to-image generator (takes images of shape "
            f"{taken}); give --input FOLDER_OR_NPZ (-n, --label, --seed and --truncation are "
            "for noise generators)"
        )
    spec = describe_generator(generator, request.source)
    points = spec.image_shape == POINT_SHAPE
    if points and request.format == "png":
        raise PipelineError(
            f"--out {request.out}: {request.source.text} makes 2-D points, not images "
            "(allowed: an .npz file, which holds them as `points`)"
        )
    with truncation(generator, request.truncation, request.seed, spec.num_classes) as z_psi:
        labels = _draw_and_write(generator, request, spec, points, z_psi)
    pixels = SCALES[str(request.scale)] if request.format == "npz" else "8-bit PNG"
    pixels = "float32 coordinates" if points else pixels
    conditional = "" if labels is None else f", labels {_label_summary(labels)}"
    truncated = "" if request.truncation is None else f", truncation {request.truncation:g}"
    return (
        f"wrote {request.count} images of shape {spec.image_shape} ({pixels}) from "
        f"{request.source.text}, seed {request.seed}{truncated}{conditional}, to {request.out}"
    )


def _draw_and_write(
    generator: keras.Model,
    request: Request,
    spec: GeneratorSpec,
    points: bool,
    z_psi: float | None,
) -> np.ndarray | None:
    """Draw the images (z truncated at `z_psi`, if any) and write them; returns the labels."""
    from pipeline.generation import noise
    from pipeline.generation.outputs import to_unit_range
    from pipeline.images import to_uint8

    latents, labels = noise.generator_inputs(
        request.seed, request.count, request.labels, spec, request.source.text, z_psi
    )
    batches = noise.generated_batches(
        generator, latents, labels, request.batch_size, request.source.text
    )
    if request.format == "png":
        names = noise.image_names(labels, request.count)
        pixels = (to_uint8(batch) for batch in batches)
        _write(request, lambda: write_png_folder(request.out, names, pixels, labels))
    else:
        pixel_bytes = 1 if request.scale == 255 else 4
        needed = request.count * (_size(spec.image_shape) * (4 + pixel_bytes) + latents[0].nbytes)
        what = f"{request.count} images of shape {spec.image_shape}"
        check_npz_size(needed, what, f"-n {request.count}")
        images = _concatenate(batches)
        if points:  # coordinates, as the generator makes them
            arrays = {"points": images.reshape(-1, 2).astype("float32"), "z": latents}
        else:
            pixels = to_uint8(images) if request.scale == 255 else to_unit_range(images)
            arrays = {"images": pixels, "z": latents}
        if labels is not None:
            arrays["labels"] = labels
        _write(request, lambda: write_npz(request.out, arrays))
    return labels


def translate_images(
    generator: keras.Model, request: TranslationRequest, inputs: ImageInputs
) -> str:
    """Translate the user's images with an image-to-image generator into --out; say so."""
    import numpy as np

    from pipeline.generation.models import describe_translator, translates_images
    from pipeline.generation.outputs import clipped
    from pipeline.generation.translation import check_fits, translated_batches
    from pipeline.images import to_uint8

    model = request.source.text
    if not translates_images(generator):
        raise PipelineError(
            f"--input: {model} does not translate images (it takes inputs of shape "
            f"{[tuple(x.shape) for x in generator.inputs]}); allowed: an image-to-image "
            "generator, or drop --input and give -n to draw from noise"
        )
    spec = describe_translator(generator, request.source)
    check_fits(inputs, spec.input_shape, model)
    count = len(inputs.images)
    batches = translated_batches(generator, inputs.images, request.batch_size, model)
    if request.format == "png":
        names = [f"{name}.png" for name in inputs.names]
        pixels = (to_uint8(batch) for batch in batches)
        _write(request, lambda: write_png_folder(request.out, names, pixels))
        written = "8-bit PNG"
    else:
        per_pair = 4 * (_size(spec.input_shape) + _size(spec.output_shape))
        needed = count * (per_pair + 4 * max(map(len, inputs.names)))
        what = f"{count} pairs of shapes {spec.input_shape} and {spec.output_shape}"
        check_npz_size(needed, what, f"--input {inputs.source}")
        arrays = {
            "inputs": inputs.images,
            "outputs": clipped(_concatenate(batches)),
            "names": np.asarray(inputs.names),
        }
        _write(request, lambda: write_npz(request.out, arrays))
        written = "float32 in [-1, 1]"
    return (
        f"translated {count} images of shape {spec.input_shape} into {spec.output_shape} "
        f"({written}) with {model}, to {request.out}"
    )


def _write(request: Request | TranslationRequest, write: Callable[[], None]) -> None:
    """Run the write; a full disk or a vanished folder is a failed run (exit 1), not bad input."""
    try:
        write()
    except OSError as err:
        raise RunFailed(f"--out {request.out}: cannot be written ({err.strerror or err})") from None


def _concatenate(batches) -> np.ndarray:
    import numpy as np

    return np.concatenate(list(batches))


def _size(shape: tuple[int, ...]) -> int:
    height, width, channels = shape
    return height * width * channels


def _label_summary(labels: np.ndarray) -> str:
    shown = ", ".join(map(str, labels[:10]))
    return shown + (", ..." if len(labels) > 10 else "")


if __name__ == "__main__":
    run_stage(main)
