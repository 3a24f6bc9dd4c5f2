"""Throughput of `AdversarialModel.train_step` for each training knob, as a Markdown table.

For every combination of family (or `--model`), network, `train.precision`,
`train.jit_compile`, `train.steps_per_execution` and batch size, the model is
built as training builds it (`build_model`), warmed up (traced and compiled)
outside the timing, then timed over `--steps` generator steps of
`model.fit` on random in-memory images, so the figure is the model's alone:
compare it with the seconds per epoch `dvc repro` logs, which also count
reading the data, the grids, the scores and the checkpoint.

Usage:

    # The defaults: gan, wgan_gp and acgan on MLP and DCGAN networks, float32.
    python -m benchmarks.train_step

    # What each knob buys on a GPU (the table in docs/gpu.md):
    python -m benchmarks.train_step --families gan wgan_gp acgan --networks dcgan \\
        --precision float32 mixed_bfloat16 --jit-compile false true \\
        --steps-per-execution 1 8 --batch-size 256

    # CIFAR-sized images, ResNet networks, two batch sizes:
    python -m benchmarks.train_step --families sngan --networks resnet \\
        --image-shape 32,32,3 --batch-size 64 128

    # A model section of params.yaml, as configured (its own network, batch and
    # every train knob not given), in float32 and bfloat16:
    python -m benchmarks.train_step --model wgan_gp --precision float32 mixed_bfloat16

    # A smoke test: a few steps of each combination, in seconds.
    python -m benchmarks.train_step --families gan --networks mlp --quick

    # TensorFlow and JAX side by side, on the same networks, in one table:
    python -m benchmarks.train_step --backend tensorflow jax --families gan --networks mlp dcgan

Each combination is validated by the params schema, as a `params.yaml`
section with these `train` values would be: one the schema or the network
refuses (a batch size out of range, a 30x30 image for DCGAN) is a row with
the one-line reason, and the rest of the table is still measured. A family
whose regulariser differentiates D per example (wgan_gp's gradient penalty)
gets DCGAN's LayerNorm critic, as `params.yaml`'s wgan_gp has, since the schema
refuses a BatchNorm one; the network column says so.

The `xla` column is what Keras resolved (`model.jit_compile`): on TensorFlow
`auto` is on with a GPU, off on a CPU; JAX always compiles with XLA. Without
XLA, training turns TensorFlow's deterministic kernels on
(`seed_everything` in `pipeline.backend`), and so does this benchmark: `xla
off` is the speed of a deterministic run. One device (the default strategy)
runs every combination. `first s` is the first execution's wall time:
tracing and compiling the step, and running it once.

The table's header prints first and each row as soon as it is measured, so
a run stopped early keeps its rows; before each combination a line on
stderr says which it is (`[3/8 on tensorflow, about 2 min 10 s left] ...`,
from the combinations measured so far). Each backend runs in a process of
its own (Keras picks its backend once per process); with several
`--backend`s, one table holds them all and their device lines follow it.
Run on an otherwise idle machine; on a CPU, mixed precision and XLA are
usually slower than float32.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any, get_args

import numpy as np

from pipeline.errors import PipelineError, typed_first_line
from pipeline.models.networks import NETWORKS
from pipeline.models.presets import PRESETS, with_preset
from pipeline.models.regularisers import Regularisers
from pipeline.params import ModelParams, load_params, parse_params
from pipeline.progress import duration_text
from pipeline.train_settings import TrainParams

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_FAMILIES = ("gan", "wgan_gp", "acgan")
DEFAULT_NETWORKS = ("mlp", "dcgan")
PRECISIONS: tuple[str, ...] = get_args(TrainParams.model_fields["precision"].annotation)
BACKENDS: tuple[str, ...] = get_args(TrainParams.model_fields["backend"].annotation)
JIT_SETTINGS: dict[str, str | bool] = {"auto": "auto", "true": True, "false": False}
NUM_CLASSES = 10  # a conditional model's labels, as MNIST's and CIFAR-10's
DEFAULT_STEPS = 200
DEFAULT_WARMUP = 20
QUICK_STEPS = 5
QUICK_WARMUP = 1
MISSING = "—"
HEADER = (
    "backend",
    "family",
    "network",
    "precision",
    "xla",
    "steps/exec",
    "batch",
    "images/s",
    "ms/step",
    "first s",
)
ROW_PREFIX = "ROW "  # a child process's rows, one JSON object a line


@dataclass(frozen=True)
class Combination:
    """One row of the table: a model section and the train knobs set on it.

    `name` is the section's name: the family, or the params.yaml model's.
    `batch_size` None keeps the model's own.
    """

    name: str
    section: dict[str, Any]
    precision: str
    jit_compile: str
    steps_per_execution: int
    batch_size: int | None


@dataclass(frozen=True)
class Row:
    """What one combination measured, or why it was not measured."""

    backend: str
    family: str
    network: str
    precision: str
    xla: str
    steps_per_execution: str
    batch: str
    d_steps: int | None = None
    images_per_second: float | None = None
    ms_per_step: float | None = None
    first_seconds: float | None = None
    reason: str | None = None

    def cells(self) -> list[str]:
        if self.images_per_second is None:
            # Escaped: a `|` in the reason would split the cell.
            rate = "not measured: " + (self.reason or "").replace("|", "\\|")
        else:
            rate = f"{self.images_per_second:,.0f}"
        ms = MISSING if self.ms_per_step is None else f"{self.ms_per_step:.2f}"
        first = MISSING if self.first_seconds is None else f"{self.first_seconds:.1f}"
        return [
            self.backend,
            self.family,
            self.network,
            self.precision,
            self.xla,
            self.steps_per_execution,
            self.batch,
            rate,
            ms,
            first,
        ]


# --- command line ------------------------------------------------------------------


def image_shape(text: str) -> tuple[int, int, int]:
    """`28,28,1` as (height, width, channels)."""
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) <= 0:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected height,width,channels as positive integers, e.g. 28,28,1"
        )
    return shape  # type: ignore[return-value]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    what = parser.add_mutually_exclusive_group()
    what.add_argument(
        "--families",
        "--family",
        nargs="+",
        choices=sorted(PRESETS),
        metavar="FAMILY",
        help=f"presets with their defaults (default: {' '.join(DEFAULT_FAMILIES)}); "
        f"one of {', '.join(PRESETS)}",
    )
    what.add_argument("--model", help="instead, a model section of params.yaml, as configured")
    parser.add_argument(
        "--networks",
        "--network",
        nargs="+",
        choices=sorted(NETWORKS),
        help=f"network kinds, each with its defaults (default: {' '.join(DEFAULT_NETWORKS)}; "
        "with --model, the model's own network)",
    )
    parser.add_argument(
        "--precision",
        nargs="+",
        choices=PRECISIONS,
        help="train.precision (default: float32, or with --model the model's own)",
    )
    parser.add_argument(
        "--jit-compile",
        nargs="+",
        choices=list(JIT_SETTINGS),
        help="train.jit_compile (default: auto, or with --model the model's own)",
    )
    parser.add_argument(
        "--steps-per-execution",
        nargs="+",
        type=int,
        metavar="N",
        help="train.steps_per_execution (default: 1, or with --model the model's own)",
    )
    parser.add_argument(
        "--batch-size",
        nargs="+",
        type=int,
        metavar="N",
        help="train.batch_size: images per D update (default: each model's own)",
    )
    parser.add_argument(
        "--steps", type=int, help=f"timed generator steps (default {DEFAULT_STEPS})"
    )
    parser.add_argument(
        "--warmup", type=int, help=f"untimed steps first (default {DEFAULT_WARMUP})"
    )
    parser.add_argument(
        "--image-shape",
        type=image_shape,
        default=(28, 28, 1),
        metavar="H,W,C",
        help="random images of this shape (default 28,28,1; 32,32,3 for CIFAR-sized)",
    )
    parser.add_argument(
        "--backend",
        nargs="+",
        choices=BACKENDS,
        default=[os.environ.get("KERAS_BACKEND", "tensorflow")],
        help="Keras backends, each in its own process, side by side in one table "
        "(default: KERAS_BACKEND, else tensorflow)",
    )
    parser.add_argument("--rows-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke test: {QUICK_STEPS} timed steps after {QUICK_WARMUP} untimed one",
    )
    args = parser.parse_args(argv)
    if args.steps is None:
        args.steps = QUICK_STEPS if args.quick else DEFAULT_STEPS
    if args.warmup is None:
        args.warmup = QUICK_WARMUP if args.quick else DEFAULT_WARMUP
    if args.steps <= 0 or args.warmup < 0:
        parser.error("--steps must be positive and --warmup not negative")
    return args


# --- the combinations --------------------------------------------------------------


def needs_per_example_critic(family: str) -> bool:
    """Whether the family's preset has a penalty that differentiates D example by example."""
    regularisers = Regularisers.model_validate(with_preset(family, {}).get("regularisers", {}))
    return any(part.needs_per_example_critic for part in regularisers.parts())


def network_section(family: str, kind: str) -> dict[str, Any]:
    """`{kind: ...}` with the kind's defaults, its critic made per-example where the family
    needs it (what `params.yaml` does for wgan_gp: BatchNorm would be refused)."""
    network: dict[str, Any] = {"kind": kind}
    mixes = NETWORKS[kind].model_validate(network).discriminator_mixes_batch()
    if mixes and needs_per_example_critic(family):
        network["discriminator_norm"] = "layer"
    return network


def network_label(section: dict[str, Any]) -> str:
    network = section.get("network", {})
    kind = str(network.get("kind", "mlp"))
    return f"{kind} (D layer norm)" if network.get("discriminator_norm") == "layer" else kind


def base_sections(args: argparse.Namespace) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, model section before the train knobs) for each family and network, or
    for `--model` (its own network, or each of `--networks`)."""
    if args.model:
        # Exits with the schema's one-line message when params.yaml is bad.
        own = load_params().model(args.model).model_dump()
        if not args.networks:
            yield args.model, own
        for kind in args.networks or ():
            yield args.model, {**own, "network": network_section(own["family"], kind)}
        return
    for family in args.families or DEFAULT_FAMILIES:
        for kind in args.networks or DEFAULT_NETWORKS:
            yield family, {"family": family, "network": network_section(family, kind)}


def own_train(section: dict[str, Any]) -> dict[str, Any]:
    """The section's train values: its own, then its preset's, then the schema's defaults."""
    return {**TrainParams().model_dump(), **with_preset(section["family"], section)["train"]}


def combinations(args: argparse.Namespace) -> Iterator[Combination]:
    """Every combination of the sections and the knobs; a knob not given keeps its value."""
    for name, section in base_sections(args):
        train = own_train(section)
        jit = str(train["jit_compile"]).lower()  # True -> "true", as on the command line
        for precision, jit_compile, spe, batch in product(
            args.precision or [train["precision"]],
            args.jit_compile or [jit],
            args.steps_per_execution or [train["steps_per_execution"]],
            args.batch_size or [None],
        ):
            yield Combination(name, section, precision, jit_compile, spe, batch)


def describe(combo: Combination) -> str:
    batch = "own" if combo.batch_size is None else combo.batch_size
    return (
        f"{combo.name}, {network_label(combo.section)}, {combo.precision}, "
        f"jit_compile {combo.jit_compile}, steps/exec {combo.steps_per_execution}, batch {batch}"
    )


def validated(combo: Combination) -> ModelParams:
    """The combination as a params.yaml section, through the schema.

    Raises:
        ParamsError: the schema's one line, e.g. `schema: gan.train.batch_size = 0: ...`.
    """
    train = {
        **combo.section.get("train", {}),
        "precision": combo.precision,
        "jit_compile": JIT_SETTINGS[combo.jit_compile],
        "steps_per_execution": combo.steps_per_execution,
    }
    if combo.batch_size is not None:
        train["batch_size"] = combo.batch_size
    raw = {"models": [combo.name], combo.name: {**combo.section, "train": train}}
    return parse_params(raw, source="schema").model(combo.name)


# --- timing ------------------------------------------------------------------------


def whole_executions(steps: int, steps_per_execution: int) -> int:
    """`steps` rounded up to whole executions: Keras runs `steps_per_execution` steps a call."""
    return -(-steps // steps_per_execution) * steps_per_execution


def random_batch(params: ModelParams, shape: tuple[int, int, int], seed: int = 0) -> tuple:
    """One generator step's real batch (`batch_size * d_steps` images), as `fit` takes it."""
    global_batch = params.train.batch_size * params.train.d_steps
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (global_batch, *shape)).astype("float32")
    labels = rng.integers(0, NUM_CLASSES, global_batch).astype("int32")
    return (images, labels) if params.conditional else (images,)


def seconds_for(model, data, steps: int) -> float:
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    return time.perf_counter() - start


@dataclass(frozen=True)
class Measured:
    xla: bool
    steps: int
    seconds: float
    first_seconds: float


def measure(params: ModelParams, shape: tuple[int, int, int], steps: int, warmup: int) -> Measured:
    """`steps` generator steps timed after the first execution and `warmup` untimed steps."""
    from pipeline import backend
    from pipeline.training.model import build_model

    num_classes = NUM_CLASSES if params.conditional else 0
    model = build_model(params, shape, seed=0, num_classes=num_classes)
    data = backend.endless(random_batch(params, shape))
    spe = params.train.steps_per_execution
    # The first execution traces and compiles: timed on its own, never with the rest.
    first = seconds_for(model, data, spe)
    if warmup > spe:
        seconds_for(model, data, whole_executions(warmup - spe, spe))
    timed = whole_executions(steps, spe)
    return Measured(bool(model.jit_compile), timed, seconds_for(model, data, timed), first)


def run(combo: Combination, shape: tuple[int, int, int], steps: int, warmup: int) -> Row:
    """One row: measured, or the reason it was not."""
    batch = own_train(combo.section)["batch_size"] if combo.batch_size is None else combo.batch_size
    family = combo.section["family"]
    row = {
        "backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
        "family": family if combo.name == family else f"{family} ({combo.name})",
        "network": network_label(combo.section),
        "precision": combo.precision,
        "xla": combo.jit_compile,
        "steps_per_execution": str(combo.steps_per_execution),
        "batch": str(batch),
    }
    try:
        params = validated(combo)
    except PipelineError as err:
        return Row(**row, reason=str(err))
    try:
        measured = measure(params, shape, steps, warmup)
    except Exception as err:  # one combination's failure (a refusing network, OOM) is its row's
        return Row(**row, d_steps=params.train.d_steps, reason=typed_first_line(err))
    finally:
        import keras

        keras.backend.clear_session()
        gc.collect()
    images = params.train.batch_size * params.train.d_steps * measured.steps
    return Row(
        **{**row, "xla": "on" if measured.xla else "off"},
        d_steps=params.train.d_steps,
        images_per_second=images / measured.seconds,
        ms_per_step=measured.seconds / measured.steps * 1e3,
        first_seconds=measured.first_seconds,
    )


# --- the report --------------------------------------------------------------------


def device_line() -> str:
    """The devices the running backend sees, GPUs by name (the first thing that loads it)."""
    from pipeline.cli import quiet_tensorflow_import

    with quiet_tensorflow_import():
        from pipeline import backend

    names = backend.gpu_names()
    devices = ", ".join(backend.device_names())
    where = f"GPU: {', '.join(names)}" if names else f"no GPU; CPU with {os.cpu_count()} cores"
    return f"Devices ({backend.NAME}): {devices} ({where}); each combination runs on one device."


def table_header() -> str:
    """The Markdown table's header and separator lines."""
    return "| " + " | ".join(HEADER) + " |\n|" + "---|" * len(HEADER)


def table_line(row: Row) -> str:
    return "| " + " | ".join(row.cells()) + " |"


def print_row(row: Row) -> None:
    """One row of the table, flushed: a kill keeps every row printed so far."""
    print(table_line(row), flush=True)


def print_child_row(row: Row) -> None:
    """One row as a child process hands it to its parent: JSON, flushed."""
    print(ROW_PREFIX + json.dumps(dataclasses.asdict(row)), flush=True)


def legend(rows: Sequence[Row], steps: int) -> str:
    """What the figures mean."""
    d_steps = sorted({(row.family, row.d_steps) for row in rows if row.d_steps is not None})
    per_family = ", ".join(f"{family} {k}" for family, k in d_steps) or MISSING
    return (
        "images/s: real images the model trains on per second, i.e. batch (train.batch_size, "
        "the global batch, on one device) x train.d_steps per generator step "
        f"(d_steps: {per_family}) x the {steps} timed generator steps (rounded up to whole "
        "executions) / the seconds `model.fit` took, on random in-memory images. "
        "ms/step: milliseconds per generator step, its d_steps D updates included. "
        "xla: `model.jit_compile` as Keras resolved it (on, off), or the setting asked "
        "(auto, true, false) where no model was built. first s: the first execution's "
        "seconds (tracing, compiling, one execution), outside the timing."
    )


def progress_line(done: int, total: int, seconds: float, combo: Combination) -> str:
    """`[3/8 on tensorflow, about 2 min 10 s left] gan, mlp, ...`: what is measured next.

    The time left is the mean time of the combinations done on this backend
    (built, warmed up, timed) times the ones still to do, this one included.

    Args:
        done: combinations measured so far on this backend.
        total: combinations on this backend.
        seconds: the time the `done` ones took.
        combo: the one measured next.
    """
    where = f"{done + 1}/{total} on {os.environ.get('KERAS_BACKEND', 'tensorflow')}"
    if done:
        where += f", about {duration_text(seconds / done * (total - done))} left"
    return f"[{where}] {describe(combo)}"


def measure_here(args: argparse.Namespace, emit) -> list[Row]:
    """Every combination on the backend this process runs, each row passed to `emit`.

    Before each, a line on stderr says which it is and about how long the
    rest will take, so a long run can be followed (and stopped) knowingly.
    """
    todo = list(combinations(args))
    rows: list[Row] = []
    start = time.monotonic()
    for combo in todo:
        line = progress_line(len(rows), len(todo), time.monotonic() - start, combo)
        print(line, file=sys.stderr, flush=True)
        rows.append(run(combo, args.image_shape, args.steps, args.warmup))
        emit(rows[-1])
    return rows


def measure_in_child(backend: str, argv: Sequence[str], emit) -> tuple[str, list[Row]]:
    """(device line, rows) of this benchmark run on `backend` in a process of its own;
    each row is passed to `emit` as it comes."""
    command = [sys.executable, "-m", "benchmarks.train_step", *argv]
    command += ["--backend", backend, "--rows-only"]
    env = {**os.environ, "KERAS_BACKEND": backend}
    # stderr (progress, one line per combination) goes straight to the terminal.
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    device, rows = "", []
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith(ROW_PREFIX):
            rows.append(Row(**json.loads(line[len(ROW_PREFIX) :])))
            emit(rows[-1])
        elif line.startswith("Devices"):
            device = line.strip()
    if child.wait():
        raise SystemExit(f"the {backend} benchmark failed (exit code {child.returncode})")
    return device, rows


def without_backend(argv: Sequence[str]) -> list[str]:
    """The command line less its `--backend` values, to hand to a child per backend."""
    kept, skipping = [], False
    for arg in argv:
        if arg == "--backend":
            skipping = True
            continue
        if skipping and not arg.startswith("--"):
            continue
        skipping = False
        kept.append(arg)
    return kept


def main(argv: Sequence[str] | None = None) -> None:
    """The device line, the table's header, each row as it is measured, then the legend.

    Rows are printed (and flushed) one by one, so that a run stopped early
    keeps the rows it measured. With several backends, their device lines
    come after the table, once each backend's process has said it.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.rows_only:
        print(device_line(), flush=True)
        measure_here(args, print_child_row)
        return
    devices: list[str] = []
    if args.backend == [os.environ.get("KERAS_BACKEND", "tensorflow")]:
        print(device_line(), end="\n\n", flush=True)
        print(table_header(), flush=True)
        rows = measure_here(args, print_row)
    else:
        print(table_header(), flush=True)
        rows = []
        for backend in args.backend:
            device, measured = measure_in_child(backend, without_backend(argv), print_row)
            devices.append(device)
            rows += measured
    print()
    if devices:
        print("\n".join(devices), end="\n\n")
    print(legend(rows, args.steps))


if __name__ == "__main__":
    main()
