"""What each stage reads of `params.yaml`: its own values, every default filled in.

A stage never reads the whole file: it gets one of these. The `params` stage
writes each to resolved/, and dvc.yaml makes the stage depend on that file,
so a stage re-runs exactly when a value it reads changes, whether in
params.yaml or in a default of the schema (pipeline/params.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.fileio import atomic_dir
from pipeline.params import (
    EvaluateParams,
    EvaluatorParams,
    ExperimentName,
    ExportParams,
    ModelSection,
    Params,
    ParamsError,
    PrepareParams,
)
from pipeline.schema import Section, Seed


class PrepareStage(Section):
    seed: Seed
    prepare: PrepareParams


class EvaluatorStage(Section):
    seed: Seed
    evaluator: EvaluatorParams


class TrainStage(Section):
    seed: Seed
    experiment: ExperimentName  # the MLflow experiment its run goes to
    model: ModelSection


class EvaluateStage(Section):
    seed: Seed
    evaluate: EvaluateParams
    # How an unpaired translation's evaluation trains its target domain's classifier.
    evaluator: EvaluatorParams


class ExportStage(Section):
    seed: Seed
    export: ExportParams


class SeedsStage(Section):
    """The `seeds` stage trains and scores a model again with each of `seeds`."""

    seed: Seed  # the training's own, whose scores join the others'
    seeds: list[Seed]
    train: TrainStage
    evaluate: EvaluateStage


class ReportStage(Section):
    models: list[str]


StageParams = (
    PrepareStage
    | EvaluatorStage
    | TrainStage
    | EvaluateStage
    | ExportStage
    | SeedsStage
    | ReportStage
)
# The stages that run once per name in `models`.
MODEL_STAGES = ("train", "evaluate", "export", "seeds")


def stage_params(params: Params, stage: str, model: str | None = None) -> StageParams:
    """The values stage `stage` (for `model`, if it runs per model) reads.

    Raises:
        ParamsError: an unknown stage, or a model not listed in `models`.
    """
    if (stage in MODEL_STAGES) != (model is not None):
        raise ParamsError(
            f"stage {stage!r}: a model name is {'needed' if model is None else 'not taken'}"
        )
    if model is not None:
        params.model(model)  # raises unless listed
    seed = params.seed
    if stage == "prepare":
        return PrepareStage(seed=seed, prepare=params.prepare)
    if stage == "evaluator":
        return EvaluatorStage(seed=seed, evaluator=params.evaluator)
    if stage == "train":
        return TrainStage(seed=seed, experiment=params.mlflow.experiment, model=params.model(model))
    if stage == "evaluate":
        return EvaluateStage(seed=seed, evaluate=params.evaluate, evaluator=params.evaluator)
    if stage == "export":
        return ExportStage(seed=seed, export=params.export)
    if stage == "seeds":
        train = stage_params(params, "train", model)
        evaluate = stage_params(params, "evaluate", model)
        return SeedsStage(seed=seed, seeds=params.seeds, train=train, evaluate=evaluate)
    if stage == "report":
        return ReportStage(models=params.models)
    raise ParamsError(f"unknown stage {stage!r}")


def resolved_files(params: Params) -> dict[str, StageParams]:
    """Every stage's values, keyed by their file under resolved/ (as named in dvc.yaml)."""
    files: dict[str, StageParams] = {
        f"{stage}.json": stage_params(params, stage) for stage in ("prepare", "evaluator", "report")
    }
    for stage in ("evaluate", "export"):  # the same for every model
        files[f"{stage}.json"] = stage_params(params, stage, params.models[0])
    for name in params.models:
        files[f"train/{name}.json"] = stage_params(params, "train", name)
        files[f"seeds/{name}.json"] = stage_params(params, "seeds", name)
    return files


def write_resolved(params: Params, out_dir: str | Path) -> list[Path]:
    """Write `resolved_files` as sorted JSON into `out_dir`, replacing it in one step.

    The bytes depend on the values alone, so an unchanged stage keeps an
    unchanged file and DVC does not re-run it.

    Returns:
        The files written, relative to `out_dir`.
    """
    files = resolved_files(params)
    with atomic_dir(out_dir) as tmp:
        for relative, values in files.items():
            path = tmp / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                json.dumps(values.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
            )
    return [Path(relative) for relative in files]
