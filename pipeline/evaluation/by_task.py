"""Score any trained model with the suite its task (`task.json`) calls for.

One entry per task kind: noise-to-image generators against the real-data
floor, translators against their task's baseline, and the models of two
generators (CycleGAN's inverse, CoGAN's second) with those read from their
`networks/` folder. The `evaluate` stage calls `evaluate_model` and does not
need to know the kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.evaluation.coupled import evaluate_coupled
from pipeline.evaluation.evaluate import evaluate_generator
from pipeline.evaluation.translation import evaluate_translation
from pipeline.evaluation.unpaired import evaluate_unpaired
from pipeline.params import EvaluateParams, EvaluatorParams
from pipeline.task_file import (
    COUPLED_GENERATION,
    GENERATION,
    PAIRED_TRANSLATION,
    UNPAIRED_TRANSLATION,
    continuous_codes,
)


@dataclass(frozen=True)
class ModelFiles:
    """What an evaluation reads: the data, the trained networks and the domain evaluator."""

    data_dir: str | Path
    generator_path: str | Path
    networks_dir: str | Path
    classifier_path: str | Path


Scores = dict[str, float | int]
Evaluation = Callable[[EvaluateParams, int, dict[str, Any], ModelFiles, EvaluatorParams], Scores]


def evaluate_model(
    params: EvaluateParams,
    seed: int,
    task: dict[str, Any],
    files: ModelFiles,
    evaluator: EvaluatorParams,
) -> Scores:
    """Every metric of the model's task, beside its floor or baseline, and the sample sizes.

    Args:
        params: the `evaluate` params section.
        seed: the project seed (noise draws, sample picks).
        task: the model's `task.json`, already checked (`pipeline.task_file.read_task`).
        files: where the model and the data are.
        evaluator: the `evaluator` params section, which an unpaired translation's
            classifier of its target domain is trained with.
    """
    return BY_TASK[task["kind"]](params, seed, task, files, evaluator)


def _generation(
    params: EvaluateParams,
    seed: int,
    task: dict[str, Any],
    files: ModelFiles,
    evaluator: EvaluatorParams,
):
    return evaluate_generator(
        params,
        seed,
        data_dir=files.data_dir,
        generator_path=files.generator_path,
        classifier_path=files.classifier_path,
        continuous_codes=continuous_codes(task),
    )


def _paired(
    params: EvaluateParams,
    seed: int,
    task: dict[str, Any],
    files: ModelFiles,
    evaluator: EvaluatorParams,
):
    # Deterministic: the held-out pairs are fixed, and a translator draws no noise.
    return evaluate_translation(
        params,
        task,
        data_dir=files.data_dir,
        generator_path=files.generator_path,
        classifier_path=files.classifier_path,
    )


def _with_networks(
    evaluate: Callable[..., Scores], evaluator_keyword: str | None = None
) -> Evaluation:
    """A model of two generators: its scores read the other from `networks/`.

    Args:
        evaluate: the task's scoring function.
        evaluator_keyword: the argument of `evaluate` that takes the `evaluator`
            settings, where it trains a classifier of its own (CycleGAN's target
            domain); None where it trains none.
    """

    def run(
        params: EvaluateParams,
        seed: int,
        task: dict[str, Any],
        files: ModelFiles,
        evaluator: EvaluatorParams,
    ):
        settings = {evaluator_keyword: evaluator} if evaluator_keyword else {}
        return evaluate(
            params,
            seed,
            task,
            data_dir=files.data_dir,
            generator_path=files.generator_path,
            networks_dir=files.networks_dir,
            classifier_path=files.classifier_path,
            **settings,
        )

    return run


BY_TASK: dict[str, Evaluation] = {
    GENERATION: _generation,
    PAIRED_TRANSLATION: _paired,
    UNPAIRED_TRANSLATION: _with_networks(evaluate_unpaired, "target_classifier"),
    COUPLED_GENERATION: _with_networks(evaluate_coupled),
}
