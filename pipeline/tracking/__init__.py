"""MLflow tracking: the store (`store`), what a run records (`record`), the runs
(`runs`), what they log (`metrics`), their logged models (`logged_models`) and
the `run.json` that names them (`references`).

`from pipeline import tracking` gives the functions the stages use.
"""

from pipeline.tracking.logged_models import log_generator, register_generator, tag_model_version
from pipeline.tracking.metrics import (
    QUALITY_PREFIX,
    SAMPLES_KEY,
    LoggedSteps,
    Sinks,
    log_artifacts,
    log_final_metrics,
    log_metrics,
    log_seed_summary,
)
from pipeline.tracking.references import find_run, read_reference, run_reference
from pipeline.tracking.runs import (
    Resume,
    end_orphaned_runs,
    model_run,
    run_exists,
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
