"""`dvc plots show`: an offline page, charts from the report's plot data, the grids beside.

The page template (.dvc/plots/page.html) carries Vega, Vega-Lite and
vega-embed, so nothing is fetched from a CDN; the chart templates
(.dvc/plots/*.json) draw the files the report stage writes.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT
from dvcyaml import DVC_YAML
from test_report import write_histories

from pipeline.report import LONG_SERIES, QUALITY, plot_tables, write_plot_tables

PLOTS_DIR = REPO_ROOT / ".dvc" / "plots"
PAGE = PLOTS_DIR / "page.html"
# A <script> that loads its code from elsewhere.
REMOTE_SCRIPT = re.compile(r"<script[^>]*\bsrc\s*=", re.IGNORECASE)
CHART = re.compile(r"var spec = (.*?);\s*vegaEmbed\('#(.*?)', spec\);", re.DOTALL)


def test_dvc_config_names_the_page_template():
    config = configparser.ConfigParser()
    config.read(REPO_ROOT / ".dvc" / "config")
    # DVC resolves a relative html_template against .dvc/.
    assert (REPO_ROOT / ".dvc" / config["plots"]["html_template"]).resolve() == PAGE


def test_the_page_template_is_valid_for_dvc_and_needs_no_network():
    page = PAGE.read_text(encoding="utf-8")
    assert "{plot_divs}" in page, "DVC puts the charts there"
    assert "{scripts}" not in page, "DVC would put its CDN <script> tags there"
    assert not REMOTE_SCRIPT.search(page)
    [script] = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    assert "window.vegaEmbed=" in script, "the global DVC's charts call"
    assert '<meta charset="utf-8">' in page, "the bundle is UTF-8"
    header = page[: page.index("<html>")]
    assert "python scripts/plots_template.py" in header
    assert re.search(r"Vega [\d.]+, Vega-Lite [\d.]+ and vega-embed [\d.]+", header)
    assert PAGE.stat().st_size < 1_000_000, "a minified bundle"


@pytest.mark.slow
def test_the_page_template_is_what_the_script_writes():
    pytest.importorskip("vl_convert")
    installed = version("vl-convert-python")
    if f"vl-convert-python {installed})" not in PAGE.read_text(encoding="utf-8"):
        pytest.skip(f"the template comes from another vl-convert-python than {installed}")
    done = subprocess.run(
        [sys.executable, "scripts/plots_template.py", "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def plot_definitions() -> dict[str, dict]:
    return {name: props for entry in DVC_YAML["plots"] for name, props in entry.items()}


def test_every_chart_draws_a_file_the_report_stage_writes_with_a_template_here():
    report_outs = [next(iter(out)) for out in DVC_YAML["stages"]["report"]["outs"]]
    assert "reports/plots" in report_outs
    written = {f"reports/plots/{name}" for name in [*LONG_SERIES, QUALITY]}
    for name, props in plot_definitions().items():
        template = json.loads((PLOTS_DIR / f"{props['template']}.json").read_text())
        assert "<DVC_METRIC_DATA>" in json.dumps(template), props["template"]
        [(path, _column)] = props["y"].items()
        assert path in written, name


@pytest.fixture(scope="module")
def shown(tmp_path_factory) -> Path:
    """`dvc plots show` in a workspace with two models' histories and sample grids."""
    from PIL import Image

    root = tmp_path_factory.mktemp("plots")
    shutil.copy(REPO_ROOT / "dvc.yaml", root)
    # The config and the templates; not DVC's caches.
    dvc_dir = REPO_ROOT / ".dvc"
    shutil.copytree(dvc_dir, root / ".dvc", ignore=shutil.ignore_patterns("tmp", "cache"))
    (root / "params.yaml").write_text(yaml.safe_dump({"models": ["gan", "wgan"]}))
    models = write_histories(root)  # also cgan's, which params.yaml does not list
    write_plot_tables(plot_tables(["gan", "wgan"], models), root / "reports" / "plots")
    for name in ("gan", "wgan"):
        (models / name / "samples").mkdir()
        for epoch in (0, 10):
            Image.new("L", (8, 8)).save(models / name / "samples" / f"epoch_{epoch:03d}.png")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DVC_")}
    done = subprocess.run(
        [sys.executable, "-m", "dvc", "plots", "show"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return root / "dvc_plots"


@pytest.mark.slow
def test_dvc_plots_show_draws_every_chart_offline(shown):
    page = (shown / "index.html").read_text(encoding="utf-8")
    assert "cdn.jsdelivr" not in page and not REMOTE_SCRIPT.search(page)
    assert "window.vegaEmbed=" in page, "the template's bundle"
    specs = [json.loads(spec) for spec, _ in CHART.findall(page)]
    charts = {spec["title"]["text"]: spec for spec in specs}
    assert set(charts) == set(plot_definitions())
    losses = charts["Losses (each model on its own scale)"]
    for title, spec in charts.items():
        # wgan has neither accuracy nor, scored never during training, quality.
        expected = {"gan", "wgan"} if spec is losses else {"gan"}
        assert {point["model"] for point in spec["data"]["values"]} == expected, title
    # Each model its own scales: a 30-epoch model is not squeezed beside a 200-epoch one.
    assert losses["resolve"] == {"scale": {"x": "independent", "y": "independent"}}
    assert losses["spec"]["encoding"]["color"]["field"] == "series"
    fid = charts["Domain FID during training (lower is better)"]
    assert fid["encoding"]["color"]["field"] == "model"
    assert fid["encoding"]["y"]["field"] == "domain_fid"
    # The grids of the listed models only, as files beside the page.
    assert sorted(p.name for p in (shown / "static").iterdir()) == [
        f"workspace_trained_{name}_samples_epoch_{epoch}.png"
        for name in ("gan", "wgan")
        for epoch in ("000", "010")
    ]


@pytest.mark.slow
def test_every_chart_compiles_and_draws_its_models(shown):
    """Each chart DVC filled in renders with the Vega-Lite version the page carries."""
    vl_convert = pytest.importorskip("vl_convert")
    from scripts.plots_template import VEGA_LITE

    page = (shown / "index.html").read_text(encoding="utf-8")
    for spec, _ in CHART.findall(page):
        svg = vl_convert.vegalite_to_svg(json.loads(spec), vl_version=VEGA_LITE)
        assert "<path" in svg
        assert ">gan</text>" in svg, "a panel title or legend entry per model"


@pytest.mark.slow
def test_the_page_scripts_run_in_a_javascript_engine(shown):
    """The bundle defines vegaEmbed and nothing else globally; every chart's script calls it."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("no node")
    check = """
    const vm = require("vm");
    const html = require("fs").readFileSync(process.argv[1], "utf8");
    const scripts = [...html.matchAll(/<script[^>]*>([\\s\\S]*?)<\\/script>/g)].map(m => m[1]);
    globalThis.window = globalThis;
    const before = new Set(Object.getOwnPropertyNames(globalThis));
    vm.runInThisContext(scripts[0]);
    const added = Object.getOwnPropertyNames(globalThis).filter(n => !before.has(n));
    const embedded = [];
    const real = vegaEmbed;
    globalThis.vegaEmbed = (el, spec) => embedded.push([el, typeof real, spec.title.text]);
    scripts.slice(1).forEach(s => vm.runInThisContext(s));
    console.log(JSON.stringify({added, embedded}));
    """
    done = subprocess.run(
        [node, "-e", check, str(shown / "index.html")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["added"] == ["vegaEmbed"]
    assert len(result["embedded"]) == len(plot_definitions())
    assert all(kind == "function" for _, kind, _ in result["embedded"])


def test_vl_convert_is_an_extra_not_a_runtime_dependency():
    # Users get the committed template; only who regenerates it needs the bundler.
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert not any("vl-convert" in d for d in project["dependencies"])
    assert any(d.startswith("vl-convert-python") for d in project["optional-dependencies"]["plots"])
