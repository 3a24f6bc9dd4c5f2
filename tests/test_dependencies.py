"""dvc.yaml's code dependencies are exactly the modules each stage's script can import.

A stage re-runs when a file it depends on changes, so a module missing from
its `deps` lets stale results pass as up to date, and a module it never
imports makes it re-run for nothing. The imports are read from the code (the
stage script, then every `pipeline` module it reaches, imports inside
functions included), never listed by hand.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT, committed_params_text
from dvcyaml import DVC_YAML

PACKAGES = ("pipeline", "stages")
# Its effect on a stage is the stage's resolved params, written by the `params`
# stage to resolved/: a stage depends on that file instead, so that a change
# which leaves a stage's values alone does not re-run it. That holds for what
# the schema imports as well (the parts' settings, which it validates): a
# stage depends on those modules only when it runs them by another import
# (training runs the parts' code; evaluation only validates their settings).
# The schema: what these decide reaches a stage through its resolved/ file, so a
# change re-runs exactly the stages whose values moved (a preset's models only).
COVERED_BY_RESOLVED_PARAMS = {
    "pipeline/params.py",
    "pipeline/params_file.py",
    "pipeline/params_messages.py",
    "pipeline/stage_values.py",
    "pipeline/train_settings.py",
    "pipeline/models/presets.py",
    "pipeline/models/translation/presets.py",
    "pipeline/models/translation/settings.py",
    "pipeline/models/translation/unpaired_settings.py",
}


def module_file(name: str) -> Path | None:
    """The file of a dotted module name of the project, or None for a third-party one."""
    if name.split(".")[0] not in PACKAGES:
        return None
    base = REPO_ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    """Dotted names a file imports, anywhere in it but under `if TYPE_CHECKING:`."""
    package = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts[:-1])
    if path.name == "__init__.py":
        package = ".".join(path.relative_to(REPO_ROOT).parts[:-1])
    names: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            names.add(base)
            # `from pipeline import tracking` imports the module pipeline.tracking.
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join([*parts, *([node.module] if node.module else [])])


def _runtime_nodes(tree: ast.AST):
    """Every node except those inside `if TYPE_CHECKING:` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def import_closure(script: Path, covered: frozenset[str] = frozenset()) -> set[str]:
    """The project files a script runs: itself, what it imports, their packages' __init__s.

    Files in `covered` are neither counted nor followed: their imports count
    only where another file imports them too.
    """
    seen: set[Path] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        if path in seen or path.relative_to(REPO_ROOT).as_posix() in covered:
            continue
        seen.add(path)
        for name in imported_modules(path):
            parts = name.split(".")
            # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
            for depth in range(1, len(parts) + 1):
                found = module_file(".".join(parts[:depth]))
                if found is not None:
                    todo.append(found)
    return {p.relative_to(REPO_ROOT).as_posix() for p in seen}


def stages_of(dvc_yaml: dict) -> dict[str, dict]:
    """Each stage definition, a `foreach` one once, under its name."""
    return {name: stage.get("do", stage) for name, stage in dvc_yaml["stages"].items()}


def declared_code(stage: dict) -> set[str]:
    """The project files a stage's `deps` cover, folders expanded to their modules."""
    files: set[str] = set()
    for dep in stage.get("deps", []):
        if dep.split("/")[0] not in PACKAGES:
            continue
        path = REPO_ROOT / dep
        found = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        files.update(p.relative_to(REPO_ROOT).as_posix() for p in found)
    return files


def script_of(stage: dict) -> Path:
    """`python -m stages.train ${item}` -> stages/train.py."""
    module = stage["cmd"].split()[2]
    found = module_file(module)
    assert found is not None, stage["cmd"]
    return found


@pytest.mark.parametrize("name", sorted(stages_of(DVC_YAML)))
def test_each_stage_depends_on_exactly_the_code_it_runs(name):
    stage = stages_of(DVC_YAML)[name]
    covered = frozenset() if name == "params" else frozenset(COVERED_BY_RESOLVED_PARAMS)
    needed = import_closure(script_of(stage), covered)
    declared = declared_code(stage)
    missing, needless = sorted(needed - declared), sorted(declared - needed)
    assert not missing, f"{name}: imports these but does not depend on them: {missing}"
    assert not needless, f"{name}: depends on these but never imports them: {needless}"


@pytest.mark.parametrize("name", sorted(set(stages_of(DVC_YAML)) - {"params"}))
def test_each_stage_reads_its_resolved_params_not_params_yaml(name):
    stage = stages_of(DVC_YAML)[name]
    assert "params" not in stage, f"{name}: depends on params.yaml keys directly"
    assert any(dep.startswith("resolved/") for dep in stage["deps"]), name


def test_params_stage_depends_on_the_whole_params_file():
    stage = DVC_YAML["stages"]["params"]
    assert stage["params"] == [{"params.yaml": None}]


def test_the_closure_follows_lazy_imports_and_skips_type_only_ones():
    train = import_closure(REPO_ROOT / "stages" / "train.py")
    # Imported inside main(), after the params are valid.
    assert "pipeline/training/__init__.py" in train
    assert "pipeline/__init__.py" in train and "pipeline/data/__init__.py" in train
    # pipeline/data/shards.py names RawData only under TYPE_CHECKING, and the
    # schema's import of the sources is covered by the resolved params: reading
    # the shards does not run the sources' code.
    covered = frozenset(COVERED_BY_RESOLVED_PARAMS)
    reading = import_closure(REPO_ROOT / "stages" / "train.py", covered)
    assert "pipeline/data/raw.py" not in reading
    assert "pipeline/data/sources/__init__.py" not in reading
    # Preparing runs the sources' code, which pipeline/data/prepare.py imports.
    prepare = import_closure(REPO_ROOT / "stages" / "prepare.py", covered)
    assert "pipeline/data/sources/tfds.py" in prepare


def test_each_stage_depends_on_the_resolved_file_of_the_values_it_reads():
    from pipeline.params import parse_params
    from pipeline.stage_values import resolved_files, stage_params

    params = parse_params(yaml.safe_load(committed_params_text()))
    files = resolved_files(params)
    for name, stage in stages_of(DVC_YAML).items():
        if name == "params":
            continue
        [dep] = [d for d in stage["deps"] if d.startswith("resolved/")]
        per_model = "foreach" in DVC_YAML["stages"][name]
        for model in params.models if per_model else [None]:
            relative = dep.removeprefix("resolved/").replace("${item}", str(model))
            assert files[relative] == stage_params(params, name, model), (name, model)
