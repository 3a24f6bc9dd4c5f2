"""Stage `report`: the summary of every model beside the floors, and the plots' data.

reports/summary.md puts each model's metrics beside their real-vs-real floors;
reports/plots/ gathers the training histories of the models in params.yaml
for `dvc plots show`.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.cli import global_stage_params, run_stage
from pipeline.report import plot_tables, write_plot_tables, write_summary

SUMMARY_PATH = Path("reports/summary.md")
PLOTS_DIR = Path("reports/plots")


def main() -> None:
    stage = global_stage_params("report")
    # Every input is read before anything is written.
    tables = plot_tables(stage.models, models_dir=Path("models"))
    write_summary(
        stage.models,
        metrics_dir=Path("metrics"),
        exports_dir=Path("exports"),
        evaluator_metrics=Path("metrics/evaluator.json"),
        out_path=SUMMARY_PATH,
    )
    write_plot_tables(tables, PLOTS_DIR)
    print(f"wrote {SUMMARY_PATH} and {PLOTS_DIR}/")


if __name__ == "__main__":
    run_stage(main)
