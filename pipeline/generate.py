"""Generate N images from a trained generator: `python -m pipeline.generate MODEL -n N --out PATH`.

MODEL is one of:

- a name listed under `models` in params.yaml: `<paths.models>/<name>/generator.keras`,
  the folder dvc.yaml publishes it to (`trained/`);
- a path to a `.keras` file, or to a folder holding an MLflow model (`MLmodel`);
- an MLflow URI: `models:/<model_id>` or `runs:/<run_id>/<name>`, read from the
  project's store (`MLFLOW_TRACKING_URI`, else the repository's `mlflow/mlflow.db`).

`--out DIR` writes one PNG per image (`00012.png`, or `00012_label3.png` and a
`labels.csv` for a conditional generator); `--out FILE.npz` writes one archive
with `images`, `z` and, for a conditional generator, `labels`. The same model,
seed and labels give the same images: the latents come from the seeded
stream `pipeline.sampling.GENERATE_STREAM`, and image i always gets latent i, so the latents of
`-n 10` are the first ten of `-n 1000`, and `--label 3` draws the same
latents as the default labels. A mistake in the arguments or the model is one line on stderr
and exit code 2, found before anything is written.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NoReturn

import yaml

from pipeline.cli import quiet_tensorflow_import, run_stage
from pipeline.errors import PipelineError, RunFailed, first_line, typed_first_line
from pipeline.params import DEFAULT_PARAMS_PATH, Params, load_params
from pipeline.schema import SEED_LIMIT

# numpy, TensorFlow and MLflow are imported only once the arguments are valid,
# so that a bad argument costs a fraction of a second.
if TYPE_CHECKING:
    import keras
    import numpy as np

MAX_IMAGES = 100_000  # 100 times an evaluation's samples; more is a typo (-n 1e9)
MAX_BATCH_SIZE = 65_536
DEFAULT_BATCH_SIZE = 256
DEFAULT_COUNT = 64
MAX_NPZ_BYTES = 4 * 2**30  # an archive is built in memory
NAME_DIGITS = 5  # 00000.png ... 99999.png sort by index
LABELS_FILE = "labels.csv"
MAX_LABEL_DIGITS = 9
# What a folder this command wrote holds; --overwrite replaces nothing else.
GENERATED_FILE = re.compile(r"\d+(_label\d+)?\.png|" + re.escape(LABELS_FILE))
URI_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):/")
MLFLOW_SCHEMES = ("models", "runs")
MLMODEL_FILE = "MLmodel"
DVC_YAML = Path("dvc.yaml")  # names the folder a model name resolves in
SCALES = {"255": "uint8 in [0, 255]", "1": "float32 in [0, 1]"}
ALLOWED_MODELS = (
    "a model name listed in params.yaml `models`, a .keras file, an MLflow model folder, "
    "models:/<model_id> or runs:/<run_id>/<name>"
)
EXAMPLES = """examples:
  python -m pipeline.generate gan -n 64 --out generated/gan
  python -m pipeline.generate cgan -n 1000 --label 7 --scale 1 --out generated/sevens.npz
  python -m pipeline.generate models:/<model_id> -n 16 --seed 1 --out generated/logged.npz
"""

Format = Literal["png", "npz"]


@dataclass(frozen=True)
class ModelSource:
    """Where the generator comes from, as the user named it."""

    kind: Literal["file", "mlflow"]
    text: str  # what the user wrote, for messages
    location: str  # the .keras file, or what MLflow loads (a URI or a local model folder)

    @property
    def needs_store(self) -> bool:
        return URI_SCHEME.match(self.location) is not None


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
    batch_size: int
    overwrite: bool


@dataclass(frozen=True)
class GeneratorSpec:
    """What the command needs to know about a loaded generator."""

    latent_dim: int
    image_shape: tuple[int, int, int]
    num_classes: int  # 0: unconditional


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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m pipeline.generate",
        description="Generate images from a trained generator, as PNG files or one .npz.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keeps the examples' lines
    )
    parser.add_argument("model", help=ALLOWED_MODELS)
    parser.add_argument(
        "-n",
        "--num-images",
        type=_bounded_int(1, MAX_IMAGES),
        default=DEFAULT_COUNT,
        metavar="N",
        help=f"how many images (default {DEFAULT_COUNT}, at most {MAX_IMAGES:,})",
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


def parse_request(argv: Sequence[str] | None = None) -> Request:
    """Parse and check the command line; everything that needs no model is checked here."""
    args = build_parser().parse_args(argv)
    out_format = output_format(args.out, args.format)
    if args.scale is not None and out_format == "png":
        raise PipelineError(
            f"--scale {args.scale}: applies to .npz output only; PNG files are always 8-bit "
            "(allowed: drop --scale, or write an .npz)"
        )
    labels = parse_labels(args.label)
    if labels is not None and len(labels) > args.num_images:
        raise PipelineError(
            f"--label: {len(labels)} labels for {args.num_images} images "
            "(allowed: at most as many labels as images; they are cycled)"
        )
    check_output(args.out, out_format, args.overwrite)
    source = model_source(args.model)
    seed = args.seed if args.seed is not None else default_seed()
    return Request(
        source=source,
        count=args.num_images,
        out=args.out,
        format=out_format,
        scale=int(args.scale or 255),
        seed=seed,
        labels=labels,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
    )


def output_format(out: Path, requested: Format | None) -> Format:
    """The output format: --format if given, else npz for a path ending in .npz."""
    is_npz = out.suffix.lower() == ".npz"
    if requested is None:
        return "npz" if is_npz else "png"
    if requested == "npz" and not is_npz:
        raise PipelineError(f"--out {out}: --format npz needs a file name ending in .npz")
    if requested == "png" and is_npz:
        raise PipelineError(
            f"--out {out}: --format png writes a folder, not an .npz file "
            "(allowed: a folder name, or drop --format)"
        )
    return requested


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


def check_output(out: Path, out_format: Format, overwrite: bool) -> None:
    """Refuse an output that would destroy something, before any work is done."""
    resolved = out.resolve()
    if Path.cwd().resolve().is_relative_to(resolved):
        raise PipelineError(
            f"--out {out}: is the current folder or one above it (allowed: a new folder)"
        )
    if out_format == "npz":
        _check_npz_target(out, overwrite)
    else:
        _check_png_target(out, overwrite)
    parent = _nearest_existing(resolved.parent)
    if not parent.is_dir() or not _can_create_in(parent):
        raise PipelineError(f"--out {out}: cannot be created in {parent} (not a writable folder)")


def _can_create_in(folder: Path) -> bool:
    """Whether a file can be made in `folder`, by trying: permissions alone miss /proc,
    a read-only mount, or a root user's rights."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _check_npz_target(out: Path, overwrite: bool) -> None:
    if out.is_dir():
        raise PipelineError(f"--out {out}: is a folder (allowed: a file name ending in .npz)")
    if out.exists() and not overwrite:
        raise PipelineError(f"--out {out}: exists (allowed: a new file, or --overwrite)")
    if out.exists() and not out.is_file():
        raise PipelineError(f"--out {out}: exists and is not a regular file")


def _check_png_target(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise PipelineError(f"--out {out}: exists and is not a folder (allowed: a folder)")
    if not out.is_dir():
        return
    entries = sorted(entry.name for entry in out.iterdir())
    if not entries:
        return
    if not overwrite:
        raise PipelineError(
            f"--out {out}: folder exists and is not empty (allowed: a new or empty folder, "
            "or --overwrite to replace images generated before)"
        )
    # --overwrite swaps the whole folder: refuse one that holds anything this
    # command did not write, so a mistyped --out cannot delete other work.
    foreign = [name for name in entries if not GENERATED_FILE.fullmatch(name)]
    if foreign:
        raise PipelineError(
            f"--out {out}: holds files this command does not write (e.g. {foreign[0]!r}); "
            "--overwrite replaces only a folder of generated images"
        )


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def model_source(text: str) -> ModelSource:
    """Tell a URI, a file, an MLflow model folder and a model name apart, and check each."""
    scheme = URI_SCHEME.match(text)
    if scheme:
        return _uri_source(text, scheme.group(1))
    path = Path(text)
    if path.suffix == ".keras":
        if not path.is_file():
            raise PipelineError(f"{text}: no such file (allowed: {ALLOWED_MODELS})")
        return ModelSource("file", text, text)
    if path.is_dir():
        if not (path / MLMODEL_FILE).is_file():
            raise PipelineError(
                f"{text}: a folder without an {MLMODEL_FILE} file (allowed: {ALLOWED_MODELS})"
            )
        return ModelSource("mlflow", text, str(path.resolve()))
    if not text.isidentifier():
        raise PipelineError(f"{text!r}: not a model (allowed: {ALLOWED_MODELS})")
    return _named_source(text)


def _uri_source(text: str, scheme: str) -> ModelSource:
    rest = text[len(scheme) + 2 :].strip("/")
    if scheme not in MLFLOW_SCHEMES:
        raise PipelineError(
            f"{text}: unsupported URI scheme {scheme!r} (allowed: models:/<model_id>, "
            "runs:/<run_id>/<name>)"
        )
    if not rest or any(char.isspace() for char in rest):
        raise PipelineError(f"{text}: names no model (allowed: models:/<model_id>)")
    if scheme == "runs" and "/" not in rest:
        raise PipelineError(
            f"{text}: names a run but no model in it (allowed: runs:/<run_id>/<name>)"
        )
    from pipeline.tracking.store import store_exists, tracking_uri

    # Opening a missing sqlite store would create an empty one: refuse instead.
    if not store_exists():
        raise PipelineError(
            f"{text}: there is no MLflow store at {tracking_uri()} (allowed: run in the "
            "repository that logged the model, or set MLFLOW_TRACKING_URI to its store)"
        )
    return ModelSource("mlflow", text, text)


def _named_source(name: str) -> ModelSource:
    if not DEFAULT_PARAMS_PATH.is_file():
        raise PipelineError(
            f"{name!r}: a model name needs {DEFAULT_PARAMS_PATH} in the current folder "
            f"(run from the repository root; allowed: {ALLOWED_MODELS})"
        )
    listed = _params().models
    if name not in listed:
        raise PipelineError(
            f"{name!r}: not a model listed in {DEFAULT_PARAMS_PATH} (listed: "
            f"{', '.join(listed)}); or give a .keras file or a models:/ or runs:/ URI"
        )
    path = _trained_folder() / name / "generator.keras"
    if not path.is_file():
        raise PipelineError(
            f"{path}: not found; train it with `dvc repro train@{name}` (or fetch it "
            "with `dvc pull`)"
        )
    return ModelSource("file", name, str(path))


def default_seed() -> int:
    """params.yaml's `seed`, so that the default matches the pipeline's; 0 without the file."""
    return _params().seed if DEFAULT_PARAMS_PATH.is_file() else 0


def _trained_folder() -> Path:
    """Where the train stages publish their models: dvc.yaml's `paths.models`, its one place."""
    try:
        [variables] = yaml.safe_load(DVC_YAML.read_text())["vars"]
        return Path(variables["paths"]["models"])
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as error:
        raise PipelineError(
            f"{DVC_YAML}: cannot read `vars: paths: models` from it ({typed_first_line(error)}); "
            "a model name needs the repository's dvc.yaml in the current folder "
            f"(run from the repository root; allowed: {ALLOWED_MODELS})"
        ) from None


def _params() -> Params:
    """params.yaml, validated whole (a mistake anywhere is one line, as in every stage)."""
    return load_params(DEFAULT_PARAMS_PATH)


# --- the generator ------------------------------------------------------------------


def load_generator(source: ModelSource) -> keras.Model:
    """Load the generator a source names; one line naming what is wrong if it cannot.

    TensorFlow loads here, as late as possible: a bad URI is found by MLflow
    alone, in a few seconds rather than after TensorFlow's import.
    """
    if source.kind == "file":
        with quiet_tensorflow_import():
            from pipeline.saved_models import load_keras

        return load_keras(source.location, "generator")
    with tempfile.TemporaryDirectory(prefix="generate-model-") as tmp:
        folder = mlflow_model_folder(source, Path(tmp))
        with quiet_tensorflow_import():
            import mlflow.keras
        try:
            return mlflow.keras.load_model(str(folder))
        except Exception as err:  # whatever Keras raises for a damaged archive, as one line
            raise PipelineError(
                f"{source.text}: cannot be loaded as a Keras model ({first_line(err)})"
            ) from None


def mlflow_model_folder(source: ModelSource, downloads: Path) -> Path:
    """The local folder of an MLflow Keras model, downloaded into `downloads` for a URI."""
    # A download progress bar on stderr would bury the one-line errors.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    with quiet_tensorflow_import():  # MLflow itself does not load TensorFlow
        from mlflow.artifacts import download_artifacts
        from mlflow.models import Model

        from pipeline import tracking
    folder = Path(source.location)
    if source.needs_store:
        store = tracking.connect_store()
        try:
            folder = Path(download_artifacts(artifact_uri=source.location, dst_path=str(downloads)))
        except Exception as err:  # MLflow raises many types for a bad URI; one line each
            raise PipelineError(
                f"{source.text}: not found in the MLflow store at {store} ({first_line(err)})"
            ) from None
    mlmodel = folder / MLMODEL_FILE
    if not mlmodel.is_file():
        raise PipelineError(
            f"{source.text}: not an MLflow model (no {MLMODEL_FILE} file); a logged "
            "generator is models:/<model_id> or runs:/<run_id>/<name>"
        )
    flavors = Model.load(str(mlmodel)).flavors
    if "keras" not in flavors or flavors["keras"].get("save_exported_model"):
        raise PipelineError(
            f"{source.text}: an MLflow model of flavor(s) {', '.join(sorted(flavors))} "
            "(allowed: a Keras model saved by mlflow.keras.log_model)"
        )
    return folder


def describe_generator(generator: keras.Model, source: ModelSource) -> GeneratorSpec:
    """Check that a loaded model is a generator this command can run, and say what it makes.

    A generator maps z, shape (batch, latent_dim), and for a conditional one an
    integer label, shape (batch,), to images (batch, H, W, 1 or 3).
    """
    from pipeline.sampling import is_conditional, latent_dim_of
    from pipeline.saved_models import check_generator

    allowed = (
        "allowed: a generator taking z of shape (batch, latent_dim) [and an integer label "
        "of shape (batch,)] and making images of shape (batch, H, W, 1 or 3)"
    )
    where = source.text
    if len(generator.inputs) not in (1, 2) or len(generator.outputs) != 1:
        raise PipelineError(
            f"{where}: not a generator: {len(generator.inputs)} inputs and "
            f"{len(generator.outputs)} outputs ({allowed})"
        )
    z_shape = tuple(generator.inputs[0].shape)
    if len(z_shape) != 2 or not z_shape[1]:
        raise PipelineError(f"{where}: not a generator: its input has shape {z_shape} ({allowed})")
    if is_conditional(generator):
        label = generator.inputs[1]
        if tuple(label.shape) != (None,) or "int" not in str(label.dtype):
            raise PipelineError(
                f"{where}: not a generator: its second input is {label.dtype} of shape "
                f"{tuple(label.shape)} ({allowed})"
            )
    output = tuple(generator.outputs[0].shape)
    if len(output) != 4 or None in output[1:] or output[-1] not in (1, 3):
        raise PipelineError(f"{where}: not a generator: its output has shape {output} ({allowed})")
    image_shape = (int(output[1]), int(output[2]), int(output[3]))
    # The image shape is the generator's own: no prepared data is needed to
    # generate. This still checks the inputs and that every weight is finite.
    check_generator(generator, where, image_shape)
    classes = num_classes_of(generator, where) if is_conditional(generator) else 0
    return GeneratorSpec(latent_dim_of(generator), image_shape, classes)


def num_classes_of(generator: keras.Model, where: str) -> int:
    """How many classes a conditional generator's label input takes, read from its layers.

    The pipeline's networks one-hot the label with `CategoryEncoding`; an
    `Embedding` is the other stock way. The model itself is the authority on
    which labels it accepts, so no params or data are needed.
    """
    import keras

    sizes = set()
    for layer in _all_layers(generator):
        if isinstance(layer, keras.layers.CategoryEncoding):
            sizes.add(int(layer.num_tokens))
        elif isinstance(layer, keras.layers.Embedding):
            sizes.add(int(layer.input_dim))
    if len(sizes) != 1:
        found = "none" if not sizes else ", ".join(map(str, sorted(sizes)))
        raise PipelineError(
            f"{where}: cannot tell how many classes its label takes (class counts found in its "
            f"CategoryEncoding/Embedding layers: {found}; allowed: exactly one)"
        )
    return sizes.pop()


def _all_layers(model: keras.Model) -> list:
    layers = []
    for layer in model.layers:
        layers.append(layer)
        if hasattr(layer, "layers"):  # a nested model
            layers.extend(_all_layers(layer))
    return layers


def generator_inputs(request: Request, spec: GeneratorSpec) -> tuple[np.ndarray, np.ndarray | None]:
    """The seeded latents and the labels (None for an unconditional generator)."""
    import numpy as np

    from pipeline.sampling import GENERATE_STREAM, cycled_labels, latent_vectors

    if request.labels is not None and not spec.num_classes:
        raise PipelineError(
            f"--label: {request.source.text} is an unconditional generator (takes no label); "
            "allowed: drop --label"
        )
    wrong = [k for k in request.labels or () if k >= spec.num_classes]
    if wrong:
        raise PipelineError(
            f"--label: {wrong[0]} is not a class of {request.source.text} "
            f"(allowed: 0 to {spec.num_classes - 1})"
        )
    latents = latent_vectors(request.seed, request.count, spec.latent_dim, GENERATE_STREAM)
    if not spec.num_classes:
        return latents, None
    if request.labels is None:
        return latents, cycled_labels(request.count, spec.num_classes)
    return latents, np.resize(np.asarray(request.labels, dtype=np.int32), request.count)


# --- the output -----------------------------------------------------------------------


def image_name(index: int, label: int | None, count: int) -> str:
    """`00012.png`, or `00012_label3.png` for a conditional generator."""
    digits = max(NAME_DIGITS, len(str(count - 1)))
    suffix = "" if label is None else f"_label{label}"
    return f"{index:0{digits}d}{suffix}.png"


def to_unit_range(images: np.ndarray) -> np.ndarray:
    """Map [-1, 1] to float32 [0, 1], clipping values outside.

    A generator need not end in tanh, and float32 tanh can overshoot by an
    ulp; clipping keeps the promised range exact.
    """
    import numpy as np

    return np.clip((np.asarray(images, dtype=np.float64) + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)


def write_pngs(
    generator: keras.Model,
    request: Request,
    latents: np.ndarray,
    labels: np.ndarray | None,
) -> None:
    """Generate batch by batch into a staging folder that replaces --out at the end."""
    from pipeline.fileio import atomic_dir
    from pipeline.images import save_png, to_uint8
    from pipeline.sampling import generate
    from pipeline.saved_models import require_finite

    with atomic_dir(request.out) as staging:
        rows = []
        for start in range(0, request.count, request.batch_size):
            part = slice(start, start + request.batch_size)
            part_labels = None if labels is None else labels[part]
            images = generate(generator, latents[part], part_labels, request.batch_size)
            pixels = to_uint8(require_finite(images, request.source.text))
            for offset, image in enumerate(pixels):
                index = start + offset
                label = None if labels is None else int(labels[index])
                name = image_name(index, label, request.count)
                save_png(image, staging / name)
                rows.append((name, label))
        if labels is not None:
            with open(staging / LABELS_FILE, "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["file", "label"])
                writer.writerows(rows)


def write_npz(
    generator: keras.Model,
    request: Request,
    spec: GeneratorSpec,
    latents: np.ndarray,
    labels: np.ndarray | None,
) -> None:
    """Generate everything, then write one archive in a single atomic step."""
    import numpy as np

    from pipeline.fileio import atomic_file
    from pipeline.images import to_uint8
    from pipeline.sampling import generate
    from pipeline.saved_models import require_finite

    pixel_bytes = 1 if request.scale == 255 else 4
    needed = request.count * (math.prod(spec.image_shape) * (4 + pixel_bytes) + latents[0].nbytes)
    if needed > MAX_NPZ_BYTES:
        raise PipelineError(
            f"-n {request.count}: an .npz of {request.count} images of shape "
            f"{spec.image_shape} needs {needed / 2**30:.1f} GiB of memory "
            f"(allowed: up to {MAX_NPZ_BYTES / 2**30:.0f} GiB; write PNGs or fewer images)"
        )
    images = require_finite(
        generate(generator, latents, labels, request.batch_size), request.source.text
    )
    arrays = {
        "images": to_uint8(images) if request.scale == 255 else to_unit_range(images),
        "z": latents,
    }
    if labels is not None:
        arrays["labels"] = labels
    with atomic_file(request.out) as tmp:
        np.savez_compressed(tmp, **arrays)


def main(argv: Sequence[str] | None = None) -> None:
    request = parse_request(argv)
    # TensorFlow and MLflow are imported only now that the arguments are valid,
    # so that a mistake in them fails in well under a second.
    generator = load_generator(request.source)
    spec = describe_generator(generator, request.source)
    latents, labels = generator_inputs(request, spec)
    try:
        if request.format == "png":
            write_pngs(generator, request, latents, labels)
        else:
            write_npz(generator, request, spec, latents, labels)
    except OSError as err:  # a full disk or a vanished folder: the inputs were fine
        raise RunFailed(f"--out {request.out}: cannot be written ({err.strerror or err})") from None
    pixels = SCALES[str(request.scale)] if request.format == "npz" else "8-bit PNG"
    conditional = "" if labels is None else f", labels {_label_summary(labels)}"
    print(
        f"wrote {request.count} images of shape {spec.image_shape} ({pixels}) from "
        f"{request.source.text}, seed {request.seed}{conditional}, to {request.out}"
    )


def _label_summary(labels: np.ndarray) -> str:
    shown = ", ".join(map(str, labels[:10]))
    return shown + (", ..." if len(labels) > 10 else "")


if __name__ == "__main__":
    run_stage(main)
