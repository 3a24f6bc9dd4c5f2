"""dvc.yaml is the one place that names the files a stage reads and writes.

Each stage script gets its paths from its command line, which dvc.yaml
writes; a script naming a path of its own could read or write a file DVC
does not track, or stop following dvc.yaml when a path there changes. And
the library does not import the command-line module, which only entry points
(the stage scripts, `python -m pipeline.generate`) need.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from dvcyaml import DVC_YAML, PATHS, RAW, stage_argv, stage_definition
from test_dependencies import imported_modules

STAGES = sorted(DVC_YAML["stages"])
SCRIPTS = sorted(p for p in (REPO_ROOT / "stages").glob("*.py") if p.name != "__init__.py")
# Training's resumable state: not a DVC output on purpose (it is deleted when
# training succeeds, and DVC must not restore or cache it), but named in dvc.yaml.
NOT_TRACKED = {PATHS["checkpoints"], PATHS["locks"]}


def per_stage(stage: str) -> str | None:
    """A model name for a per-model stage (the first of the repo's params), else None."""
    return "gan" if "foreach" in RAW["stages"][stage] else None


def path_flags(argv: list[str]) -> dict[str, str]:
    """`--flag value` pairs of a command line."""
    return {flag: value for flag, value in zip(argv, argv[1:], strict=False) if flag[:2] == "--"}


def declared_paths(definition: dict) -> set[str]:
    """The files a stage declares, but its code and its resolved params (see below)."""
    paths: set[str] = set()
    for key in ("deps", "outs", "metrics", "plots"):
        for entry in definition.get(key, []):
            path = entry if isinstance(entry, str) else next(iter(entry))
            paths.add(path)
    code = ("pipeline/", "stages/")
    # A stage's dependency on resolved/<stage>.json stands for the values it
    # reads from params.yaml (see dvc.yaml's header), so its script is not handed it.
    resolved = PATHS["resolved"] + "/"
    return {p for p in paths if not p.startswith(code) and not p.startswith(resolved)}


def inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def path_literals(script: Path) -> list[str]:
    """String constants in a script (f-string pieces included) that name a pipeline path.

    Dict keys are left out: a stage's `PATHS` maps flag names (`data`,
    `metrics`) to their help.
    """
    roots = {value.split("/")[0] for value in PATHS.values()}
    nested = [value for value in PATHS.values() if "/" in value]
    tree = ast.parse(script.read_text())
    keys = {id(key) for node in ast.walk(tree) if isinstance(node, ast.Dict) for key in node.keys}
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if id(node) in keys:
            continue
        text = node.value.strip()
        if any(inside(text, root) for root in roots) or any(v in text for v in nested):
            found.append(node.value)
    return found


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_no_stage_script_names_a_path_of_the_pipeline(script):
    assert SCRIPTS, "no stage scripts found"
    found = path_literals(script)
    assert not found, f"{script.name}: take these from the command line: {found}"


def test_the_literal_check_catches_a_hard_coded_path(tmp_path):
    script = tmp_path / "stage.py"
    script.write_text(
        'from pathlib import Path\nDATA = Path("data/prepared")\nf"metrics/{x}.json"\n'
        'PATHS = {"data": "the prepared dataset"}\n'
    )
    assert sorted(path_literals(script)) == ["data/prepared", "metrics/"]


@pytest.mark.parametrize("stage", STAGES)
def test_every_file_a_stage_declares_is_on_its_command_line(stage):
    definition = stage_definition(stage, per_stage(stage))
    given = path_flags(stage_argv(stage, per_stage(stage))).values()
    for path in declared_paths(definition):
        assert any(inside(path, value) for value in given), f"{stage}: {path} is not in its cmd"


@pytest.mark.parametrize("stage", STAGES)
def test_every_path_on_a_command_line_is_declared(stage):
    definition = stage_definition(stage, per_stage(stage))
    declared = declared_paths(definition) | {next(iter(out)) for out in definition.get("outs", [])}
    for flag, value in path_flags(stage_argv(stage, per_stage(stage))).items():
        tracked = any(inside(path, value) or inside(value, path) for path in declared)
        untracked = any(inside(value, folder) for folder in NOT_TRACKED)
        assert tracked or untracked, f"{stage}: {flag} {value} is neither a dep nor an out"


@pytest.mark.parametrize("stage", STAGES)
def test_each_command_gives_exactly_the_flags_its_script_takes(stage):
    python, dash_m, module, *args = stage_argv(stage, per_stage(stage))
    assert (python, dash_m) == ("python", "-m")
    script = importlib.import_module(module)
    wanted = {"--" + name.replace("_", "-") for name in script.PATHS}
    assert set(path_flags(args)) == wanted
    positional = [a for a in args if a[:2] != "--" and a not in path_flags(args).values()]
    assert positional == ([per_stage(stage)] if per_stage(stage) else [])


def test_the_tests_read_dvc_yaml_as_dvc_does():
    """tests/dvcyaml.py fills in the variables itself; DVC's own resolution must agree."""
    from dvc.repo import Repo

    with Repo(str(REPO_ROOT)) as repo:
        resolved = {stage.addressing: stage for stage in repo.index.stages}
    for stage in STAGES:
        model = per_stage(stage)
        address = f"{stage}@{model}" if model else stage
        ours = stage_definition(stage, model)
        assert resolved[address].cmd == ours["cmd"]
        theirs = {str(d.def_path) for d in resolved[address].deps}
        assert theirs == {d if isinstance(d, str) else next(iter(d)) for d in ours["deps"]} | (
            {"params.yaml"} if stage == "params" else set()
        )
        outs = [*ours.get("outs", []), *ours.get("metrics", []), *ours.get("plots", [])]
        assert {str(o.def_path) for o in resolved[address].outs} == {next(iter(o)) for o in outs}


def run_script(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


def test_a_missing_path_flag_is_one_line_naming_it(tmp_path):
    done = run_script(tmp_path, "-m", "stages.train", "gan", "--data", "data/prepared")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: the following arguments are required: --classifier, --out")
    assert "python -m stages.train --help" in line
    assert not list(tmp_path.iterdir()), "nothing is written"


def test_an_empty_path_is_one_line_naming_its_flag(tmp_path):
    _python, *args = stage_argv("prepare")
    done = run_script(tmp_path, *args[:-1], "")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: argument --out: an empty path"), line


def test_help_names_every_path_flag(tmp_path):
    done = run_script(tmp_path, "-m", "stages.report", "--help")
    assert done.returncode == 0, done.stderr
    script = importlib.import_module("stages.report")
    for name, help_text in script.PATHS.items():
        assert "--" + name.replace("_", "-") in done.stdout
        assert help_text.split()[0] in done.stdout


def test_only_entry_points_import_the_command_line_module():
    for path in sorted((REPO_ROOT / "pipeline").rglob("*.py")):
        if path.name == "cli.py" or "pipeline.cli" not in imported_modules(path):
            continue
        source = path.read_text()
        assert 'if __name__ == "__main__":' in source, f"{path}: a library module imports the CLI"
