"""Stage `report`: write reports/summary.md, every model's metrics beside their floors."""

from __future__ import annotations

from pathlib import Path

from pipeline.cli import run_stage
from pipeline.params import load_params
from pipeline.report import write_summary

SUMMARY_PATH = Path("reports/summary.md")


def main() -> None:
    params = load_params()
    write_summary(
        params.models,
        metrics_dir=Path("metrics"),
        exports_dir=Path("exports"),
        evaluator_metrics=Path("metrics/evaluator.json"),
        out_path=SUMMARY_PATH,
    )
    print(f"wrote {SUMMARY_PATH}")


if __name__ == "__main__":
    run_stage(main)
