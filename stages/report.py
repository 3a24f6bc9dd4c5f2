"""Stage `report`: the summary of every model beside the floors, the comparison, the plots' data.

The summary puts each model's metrics beside their real-vs-real floors (and,
for a model scored over several seeds, their mean and spread); the
comparison holds every model's headline metrics in one file, the one `dvc exp
show` lists; the plots folder gathers the training histories of the models in
params.yaml for `dvc plots show`.
"""

from __future__ import annotations

from pipeline.cli import global_stage_params, run_stage, stage_arguments
from pipeline.fileio import write_json
from pipeline.report import (
    headline_table,
    load_model_metrics,
    load_seed_summaries,
    plot_tables,
    write_plot_tables,
    write_summary,
)

PATHS = {
    "models_dir": "the folder of the models' folders (<model>/history.csv, quality.csv)",
    "metrics_dir": "the folder of the models' metrics files (<model>.json)",
    "seeds_dir": "the folder of the models' scores over seeds (<model>.json)",
    "exports_dir": "the folder of the models' exports (<model>/grid.png)",
    "evaluator_metrics": "the evaluator's metrics file",
    "summary": "the Markdown file to write",
    "comparison": "the JSON file of every model's headline metrics, metric first "
    "(what `dvc exp show` lists)",
    "plots": "the folder for the plot tables `dvc plots show` draws (replaced in one step)",
}


def main() -> None:
    args = stage_arguments(__doc__, PATHS)
    stage = global_stage_params("report")
    # Every input is read before anything is written.
    tables = plot_tables(stage.models, models_dir=args.models_dir)
    seeds = load_seed_summaries(stage.models, args.seeds_dir)
    comparison = headline_table(load_model_metrics(stage.models, args.metrics_dir), seeds)
    write_summary(
        stage.models,
        metrics_dir=args.metrics_dir,
        exports_dir=args.exports_dir,
        evaluator_metrics=args.evaluator_metrics,
        out_path=args.summary,
        seeds=seeds,
    )
    write_json(args.comparison, comparison)
    write_plot_tables(tables, args.plots)
    print(f"wrote {args.summary}, {args.comparison} and {args.plots}/")


if __name__ == "__main__":
    run_stage(main)
