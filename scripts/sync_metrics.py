"""Rewrite what follows from the metric registry in files that are not code.

The registry (`METRICS` in pipeline/evaluation/suite.py) is where a metric is
declared; two files cannot import it, so this script writes their part:

- dvc.yaml's top-level `plots`: the two history charts, then a chart per
  metric registered with `chart=True`, titled by its label and direction.
  DVC reads plots from dvc.yaml alone and top-level plots cannot `foreach`,
  so the list is written out here rather than typed by hand;
- README.md's metric table, between its two `metrics table` comments.

    python scripts/sync_metrics.py          # rewrite both
    python scripts/sync_metrics.py --check  # exit 1, naming each file that differs

tests/test_metric_registry.py runs the check, so a registry change that is not
synced fails the tests.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a file, the repository is not on the path
    sys.path.insert(0, str(ROOT))

from pipeline.evaluation.suite import METRICS, Better, Metric  # noqa: E402
from pipeline.report import DISCRIMINATOR_ACCURACY, LOSSES, QUALITY  # noqa: E402

DVC_YAML = ROOT / "dvc.yaml"
README = ROOT / "README.md"
PLOTS_DIR = "reports/plots"
TABLE_START = "<!-- metrics table: written by scripts/sync_metrics.py from the registry -->"
TABLE_END = "<!-- end of the metrics table -->"


@dataclass(frozen=True)
class Chart:
    """One entry of dvc.yaml's top-level `plots`.

    Args:
        title: the chart's title, and the entry's key.
        template: a template of .dvc/plots/: `per_model` (a panel per model,
            long format) or `by_model` (a colour per model, wide format).
        file: the file of reports/plots/ it draws.
        y: the column it draws.
        y_label: the y axis' title.
    """

    title: str
    template: str
    file: str
    y: str
    y_label: str


# The training histories, which are losses and trackers, not metrics.
HISTORY_CHARTS = (
    Chart("Losses (each model on its own scale)", "per_model", LOSSES, "value", "loss"),
    Chart(
        "Discriminator accuracy (GAN family)",
        "per_model",
        DISCRIMINATOR_ACCURACY,
        "value",
        "accuracy",
    ),
)


def metric_chart(metric: Metric) -> Chart:
    """The chart of a metric's column of the quality table, a colour per model."""
    return Chart(
        f"{metric.label} during training ({metric.better.phrase})",
        "by_model",
        QUALITY,
        metric.name,
        _lower_first(metric.label),
    )


def charts() -> list[Chart]:
    """Every chart of dvc.yaml's top-level `plots`, in order."""
    return [*HISTORY_CHARTS, *(metric_chart(m) for m in METRICS.values() if m.chart)]


def plot_definitions() -> list[dict]:
    """`charts()` as dvc.yaml's `plots` list, to compare with the parsed file."""
    return [
        {
            chart.title: {
                "template": chart.template,
                "x": "epoch",
                "y": {f"{PLOTS_DIR}/{chart.file}": chart.y},
                "y_label": chart.y_label,
            }
        }
        for chart in charts()
    ]


def plots_block() -> str:
    """The `plots:` block of dvc.yaml, laid out as the rest of the file."""
    lines = ["plots:"]
    for chart in charts():
        lines += [
            f"  - {_scalar(chart.title)}:",
            f"      template: {_scalar(chart.template)}",
            "      x: epoch",
            "      y:",
            f"        {_scalar(f'{PLOTS_DIR}/{chart.file}')}: {_scalar(chart.y)}",
            f"      y_label: {_scalar(chart.y_label)}",
        ]
    return "\n".join(lines) + "\n"


def with_plots(text: str) -> str:
    """dvc.yaml's text with its top-level `plots:` block (to the next top-level line) rewritten."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == "plots:"), None)
    if start is None:
        return text.rstrip("\n") + "\n\n" + plots_block()
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].strip() and lines[i][0] != " "),
        len(lines),
    )
    return "".join(lines[:start]) + plots_block() + "".join(lines[end:])


def readme_table() -> str:
    """README's metric table: a row per metric, its spread beside it."""
    rows = [
        "| key | what it measures | better | headline | during training |",
        "|---|---|---|---|---|",
    ]
    for metric in METRICS.values():
        key = " ".join(f"`{k}`" if i == 0 else f"(`{k}`)" for i, k in enumerate(metric.keys))
        only = "conditional models only: " if metric.conditional else ""
        only = "models with a categorical code (`infogan`) only: " if metric.coded else only
        only = "points from a mixture (the `ring` source) only: " if metric.mixture else only
        what = only + metric.description
        better = {Better.LOWER: "lower", Better.HIGHER: "higher", Better.CLOSER: "near the floor"}
        during = "✓, charted" if metric.chart else "✓" if metric.cheap else ""
        cells = [
            key,
            what.replace("|", "\\|"),
            better[metric.better] + ("" if metric.floor else "; no floor"),
            "✓" if metric.headline else "",
            during,
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def with_readme_table(text: str) -> str:
    """README's text with the part between the table's comments rewritten."""
    if TABLE_START not in text or TABLE_END not in text:
        raise SystemExit(f"{README.name}: no `{TABLE_START}` ... `{TABLE_END}` pair")
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    return f"{head}{TABLE_START}\n{readme_table()}{TABLE_END}{tail}"


# Each file this script writes, and how its new text follows from its text.
REWRITES: dict[Path, Callable[[str], str]] = {DVC_YAML: with_plots, README: with_readme_table}


def stale() -> list[Path]:
    """The files whose registry-derived part differs from the registry's."""
    return [path for path, rewrite in REWRITES.items() if rewrite(_read(path)) != _read(path)]


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _lower_first(label: str) -> str:
    """`Domain FID` -> `domain FID`: an axis title in running text; acronyms stay."""
    first, _, rest = label.partition(" ")
    if not first.isupper():
        first = first.lower()
    return f"{first} {rest}" if rest else first


def _scalar(value: str) -> str:
    """`value` as a YAML scalar: plain where it reads back the same, else double-quoted."""
    plain = yaml.safe_load(f"key: {value}") if ": " not in value else None
    return value if plain == {"key": value} else json.dumps(value, ensure_ascii=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="name the files that differ instead of writing them"
    )
    args = parser.parse_args()
    if args.check:
        differ = stale()
        for path in differ:
            print(f"{path.relative_to(ROOT)}: differs from the registry; run without --check")
        if differ:
            raise SystemExit(1)
        print("dvc.yaml and README.md are up to date with the metric registry")
        return
    for path, rewrite in REWRITES.items():
        text = _read(path)
        if rewrite(text) != text:
            path.write_text(rewrite(text), encoding="utf-8")
            print(f"rewrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
