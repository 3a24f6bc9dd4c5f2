"""A model trained and scored again with each of `seeds`, and the spread of its scores.

GAN scores move from seed to seed as much as between many models, so the
`seeds` stage repeats a model's training and evaluation with each seed of
params.yaml's `seeds` list, exactly as `train` and `evaluate` ran them with
`seed` (the seed draws the initial weights, the batches, the noise, and the
evaluation's samples). Its outputs:

- `replicates/<model>/seed_<s>/`: each seed's training outputs, and
  `replicates/<model>/metrics.json`, every seed's scores, `seed`'s first;
- `metrics/seeds/<model>.json`: each metric's mean and standard deviation
  over all the seeds (`pipeline.evaluation.across_seeds`).

Each seed's training is an MLflow run of its own, tagged `seeds.primary_run`
(the model's training run, whose scores are the first seed's) and
`seeds.seed`; its evaluation is a child run of it, like `evaluate`'s. The
summary is logged to the model's training run (`seeds.<metric>.mean` and
`.std`). These trainings are not registered: `models:/<model>/latest` stays
the `train` stage's.

A kill or a failure leaves the outputs as they were. Each seed's finished
training and scores wait in `<staging>/seed_<s>/` with a fingerprint of
what they came from (model, seed, data, evaluation settings, evaluator), so
a rerun resumes: finished seeds are kept, an interrupted training resumes
from its last epoch, and the staging is removed once the outputs are published.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.data import DatasetInfo, verify_prepared
from pipeline.evaluation.across_seeds import summarise
from pipeline.evaluation.suite import measurements
from pipeline.fileio import atomic_dir, read_json, write_json
from pipeline.params import flatten
from pipeline.stage_values import SeedsStage
from pipeline.task_file import read_task

PRIMARY_TAG = "seeds.primary_run"
SEED_TAG = "seeds.seed"


@dataclass(frozen=True)
class SeedsPaths:
    """What the `seeds` stage reads and writes (dvc.yaml names each)."""

    data_dir: Path
    classifier: Path
    primary_metrics: Path  # metrics/<model>.json: the training's own seed's scores
    primary_run: Path  # trained/<model>/run.json
    out_dir: Path  # replicates/<model>
    staging: Path  # finished seeds and trainings in progress, outside DVC's outputs
    summary: Path  # metrics/seeds/<model>.json


def run_seeds(stage: SeedsStage, name: str, paths: SeedsPaths, progress: str) -> dict:
    """Train and score model `name` with each extra seed; publish the runs and the summary.

    Returns:
        The summary written to `paths.summary`.
    """
    info = verify_prepared(paths.data_dir)
    per_seed = {stage.seed: measurements(read_json(paths.primary_metrics))}
    reference = _primary_run(paths) if stage.seeds else {}
    if stage.seeds:
        model = _ModelToRepeat(stage, name, paths, info, reference, _file_hash(paths.classifier))
        for seed in stage.seeds:
            scores = _scores_of_seed(model, seed, f"{progress} (seed {seed})")
            per_seed[seed] = measurements(scores)
    summary = summarise(per_seed)
    with atomic_dir(paths.out_dir) as staged:
        for seed in stage.seeds:
            shutil.copytree(_seed_folder(paths, seed) / "out", staged / f"seed_{seed}")
        every_seed = {str(seed): scores for seed, scores in per_seed.items()}
        write_json(staged / "metrics.json", every_seed)
    if stage.seeds:
        from pipeline import tracking

        tracking.log_seed_summary(reference, summary)
    write_json(paths.summary, summary)  # last: a failure above leaves the previous one
    shutil.rmtree(paths.staging, ignore_errors=True)
    return summary


@dataclass(frozen=True)
class _ModelToRepeat:
    """What every extra seed's training and scoring of one model share."""

    stage: SeedsStage
    name: str
    paths: SeedsPaths
    info: DatasetInfo
    reference: dict[str, str]  # the model's training run
    classifier_hash: str  # the evaluator the scores come from, in each seed's fingerprint


def _scores_of_seed(model: _ModelToRepeat, seed: int, label: str) -> dict[str, Any]:
    """Seed `seed`'s scores: kept from an interrupted attempt, or trained and evaluated now."""
    # Keras and MLflow load here, not with the module: with no extra seed the stage needs
    # neither, and takes a fraction of a second.
    from pipeline import tracking
    from pipeline.callbacks import fingerprint_of
    from pipeline.evaluation.by_task import ModelFiles, evaluate_model
    from pipeline.training.paths import TrainPaths
    from pipeline.training.tracked import train_model

    stage, paths, info = model.stage, model.paths, model.info
    folder = _seed_folder(paths, seed)
    scores_file = folder / "scores.json"
    fingerprint = fingerprint_of(
        stage.train.model.model_dump(),
        seed,
        info.content_hash,
        stage.evaluate.model_dump(exclude={"seed"}),
        model.classifier_hash,
    )
    if scores_file.is_file() and read_json(scores_file)["fingerprint"] == fingerprint:
        print(f"{label}: kept from the interrupted attempt")
        return read_json(scores_file)["metrics"]
    train_paths = TrainPaths(paths.data_dir, folder / "out", folder / "state", paths.classifier)
    tags = {PRIMARY_TAG: model.reference["run_id"], SEED_TAG: str(seed)}
    train = stage.train.model_copy(update={"seed": seed})
    train_model(train, model.name, train_paths, progress=label, tags=tags, register=False)
    outputs = train_paths.outputs
    seed_run = tracking.find_run(outputs.run_file)
    files = ModelFiles(paths.data_dir, outputs.generator, outputs.networks, paths.classifier)
    task = read_task(outputs.task)
    metrics = evaluate_model(stage.evaluate.evaluate, seed, task, files, stage.evaluate.evaluator)
    settings = flatten(stage.evaluate.evaluate, prefix="evaluate.")
    with tracking.stage_run(seed_run, "evaluate", settings, info):
        tracking.log_final_metrics(seed_run, measurements(metrics))
    write_json(scores_file, {"fingerprint": fingerprint, "metrics": metrics})
    print(f"{label}: " + ", ".join(f"{key} {value:.4g}" for key, value in metrics.items()))
    return metrics


def _primary_run(paths: SeedsPaths) -> dict[str, str]:
    """The model's training run (`run.json`), checked to be in the store."""
    from pipeline import tracking

    return tracking.find_run(paths.primary_run)


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _seed_folder(paths: SeedsPaths, seed: int) -> Path:
    return paths.staging / f"seed_{seed}"
