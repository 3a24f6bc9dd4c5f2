"""MLflow tracking: the store (`store`), what a run records (`record`), the runs
(`runs`) and their logged models (`logged_models`).

`from pipeline import tracking` gives the functions the stages use.
"""

from pipeline.tracking.logged_models import log_generator, register_generator, tag_model_version
from pipeline.tracking.runs import (
    QUALITY_PREFIX,
    SAMPLES_KEY,
    LoggedSteps,
    Resume,
    Sinks,
    end_orphaned_runs,
    find_run,
    log_artifacts,
    log_final_metrics,
    log_metrics,
    log_seed_summary,
    model_run,
    read_reference,
    run_exists,
    run_reference,
    stage_run,
    use_experiment,
)
from pipeline.tracking.store import connect_store, repo_root, tracking_uri

__all__ = [
    "QUALITY_PREFIX",
    "SAMPLES_KEY",
    "LoggedSteps",
    "Resume",
    "Sinks",
    "connect_store",
    "end_orphaned_runs",
    "find_run",
    "log_artifacts",
    "log_final_metrics",
    "log_generator",
    "log_metrics",
    "log_seed_summary",
    "model_run",
    "read_reference",
    "register_generator",
    "repo_root",
    "run_exists",
    "run_reference",
    "stage_run",
    "tag_model_version",
    "tracking_uri",
    "use_experiment",
]
