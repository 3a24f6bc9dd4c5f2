"""Stage `report`: write reports/summary.md, every model's metrics beside their floors."""

from __future__ import annotations

from pathlib import Path

from pipeline.cli import global_stage_params, run_stage
from pipeline.report import write_summary

SUMMARY_PATH = Path("reports/summary.md")


def main() -> None:
    stage = global_stage_params("report")
    write_summary(
        stage.models,
        metrics_dir=Path("metrics"),
        exports_dir=Path("exports"),
        evaluator_metrics=Path("metrics/evaluator.json"),
        out_path=SUMMARY_PATH,
    )
    print(f"wrote {SUMMARY_PATH}")


if __name__ == "__main__":
    run_stage(main)
