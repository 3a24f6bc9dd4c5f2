"""Time of a full evaluation at 10,000 samples: generation, evaluator passes, every metric.

Usage: python -m benchmarks.evaluation --data DIR [--generator FILE] [--classifier FILE]
           [--num-samples 10000] [--model gan]

For instance, on the files `dvc repro` writes (dvc.yaml names them):

    python -m benchmarks.evaluation --data data/prepared \
        --generator trained/gan/generator.keras --classifier trained/evaluator/classifier.keras

Without `--generator` or `--classifier` it times untrained networks of the
same shape (the time is the same), so it also runs before any training. The
real reference is the training split, tiled up to the sample size when it is
smaller: mnist5k has 4,000 training images. Run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Keras, TensorFlow and the modules that load them are imported in `main`,
# once the command line is parsed: `--help` and a mistake answer at once.
if TYPE_CHECKING:
    from pipeline.evaluation.suite import Embedded, Reference
    from pipeline.params import EvaluateParams

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def timed(label: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = fn()
    # Flushed: a run stopped early keeps the times measured so far.
    print(f"  {label:<34} {time.perf_counter() - start:7.2f} s", flush=True)
    return result


def parse_arguments() -> argparse.Namespace:
    """The command line, whose paths have no defaults.

    The caller names the files, as dvc.yaml does for the stages, so the
    benchmark times exactly the files asked for, and untrained networks only
    when asked to, never because a default path happened to be missing.
    """
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="a prepared dataset folder")
    parser.add_argument(
        "--generator", type=Path, help="a generator's .keras file; untrained when left out"
    )
    parser.add_argument(
        "--classifier", type=Path, help="the evaluator's .keras file; untrained when left out"
    )
    parser.add_argument("--num-samples", type=int, default=10_000)
    parser.add_argument("--model", default="gan", help="a model section of params.yaml")
    args = parser.parse_args()
    for flag in ("generator", "classifier"):
        path = getattr(args, flag)
        if path is not None and not path.is_file():
            parser.error(f"argument --{flag}: {path}: no such file")
    return args


def main() -> None:
    args = parse_arguments()
    from pipeline.cli import quiet_tensorflow_import

    with quiet_tensorflow_import():
        import keras
        import numpy as np

        from pipeline.data import load_arrays, load_info
        from pipeline.evaluation.classifier import build_classifier
        from pipeline.evaluation.features import embed, feature_extractor
        from pipeline.evaluation.suite import METRICS, Embedded, Metric, Reference, full_scores
        from pipeline.models.build import build_networks
        from pipeline.params import EvaluateParams, load_params
        from pipeline.sampling import generate, latent_vectors

    n = args.num_samples
    params = load_params()
    model_params = params.model(args.model)
    settings = EvaluateParams.model_validate({**params.evaluate.model_dump(), "num_samples": n})
    info = load_info(args.data)

    if args.generator is not None:
        generator = keras.saving.load_model(args.generator)
    else:
        classes = info.num_classes if model_params.conditional else 0
        generator, _ = build_networks(model_params, info.image_shape, classes)
    if args.classifier is not None:
        classifier = keras.saving.load_model(args.classifier)
    else:
        classifier = build_classifier(info.image_shape, info.num_classes, 64)
    extractor = feature_extractor(classifier)
    latents = latent_vectors(params.seed, n, model_params.network.latent_dim)
    real_images, _ = load_arrays(args.data, "train")
    real_images = np.resize(real_images, (n, *real_images.shape[1:]))
    counts = np.asarray(info.splits["train"].class_counts)

    print(f"evaluation of {n} generated images against {n} real ones", flush=True)
    start = time.perf_counter()
    images = timed("generate", lambda: generate(generator, latents))
    fake = Embedded(*timed("evaluator pass, generated", lambda: embed(extractor, images, 256)))
    real = timed("evaluator pass, real", lambda: embed(extractor, real_images, 256))
    reference = Reference(real[0], counts)
    timed("every metric (full_scores)", lambda: full_scores(reference, fake, settings))
    notes = [m.settings.format(**settings.model_dump()) for m in METRICS.values() if m.settings]
    print(f"total: {time.perf_counter() - start:.1f} s\n")
    print(f"the metrics one by one ({'; '.join(notes)}):")
    # Each function of the registry once, named by the metrics it computes;
    # the conditional ones need requested labels, which this sample has not.
    groups: dict[Callable, list[Metric]] = {}
    for metric in METRICS.values():
        if metric.compute is not None and not metric.conditional:
            groups.setdefault(metric.compute, []).append(metric)
    for compute, group in groups.items():
        timed(", ".join(m.name for m in group), _call(compute, reference, fake, settings))


def _call(compute: Callable, reference: Reference, sample: Embedded, settings: EvaluateParams):
    """`compute` bound to its arguments, for `timed` (a lambda in the loop would bind late)."""
    return lambda: compute(reference, sample, settings)


if __name__ == "__main__":
    main()
