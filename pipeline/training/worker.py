"""A multi-worker training's other workers: train in step with the chief, write nothing."""

from __future__ import annotations

import shutil

from pipeline import cluster
from pipeline.stage_values import TrainStage
from pipeline.training.paths import TrainPaths
from pipeline.training.plan import TrainingPlan
from pipeline.training.session import fit_model


def train_as_worker(
    stage: TrainStage, name: str, paths: TrainPaths, fingerprint: str, plan: TrainingPlan
) -> str:
    """Take part in a multi-worker training without writing the stage's outputs or MLflow.

    The worker trains in step with the chief in a folder of its own beside
    the chief's (`cluster.worker_dir`), thrown away at the end. It resumes
    from the chief's checkpoint, as TensorFlow's own multi-worker backups
    do, so every worker starts from the same epoch whichever process a kill
    caught between two saves; that folder must be reachable from every
    worker (one machine, or a shared file system).

    Returns:
        An empty run id: the chief's process records the run.
    """
    own = cluster.worker_dir(paths.checkpoint_dir)
    worker_paths = TrainPaths(paths.data_dir, own / "outputs", own / "state", paths.classifier)
    shutil.rmtree(own, ignore_errors=True)
    if paths.state_dir.is_dir():
        # The chief writes no checkpoint before the first collective, which
        # waits for this worker: the folder is not being rewritten now.
        shutil.copytree(paths.state_dir, worker_paths.state_dir)
    fit_model(stage.model, stage.seed, worker_paths, fingerprint, name=name, plan=plan)
    shutil.rmtree(own, ignore_errors=True)
    return ""
