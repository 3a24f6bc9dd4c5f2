"""dvc.yaml as DVC reads it, for the tests: its `paths` vars filled in, and each stage's argv.

dvc.yaml names every file a stage reads or writes once, under `vars: paths`,
and the commands and dependencies refer to them as `${paths.<name>}`. Tests
that read dvc.yaml or run a stage script go through here, so they use exactly
the wiring `dvc repro` uses (tests/test_wiring.py checks this against DVC's
own resolution).
"""

from __future__ import annotations

import re
import shlex
from typing import Any

import yaml
from conftest import REPO_ROOT

RAW = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())
[_VARS] = RAW["vars"]
PATHS: dict[str, str] = _VARS["paths"]
_PATH_VAR = re.compile(r"\$\{paths\.(\w+)\}")


def substitute(value: Any, item: str | None = None) -> Any:
    """`value` with every `${paths.<name>}`, and `${item}` when given, filled in."""
    if isinstance(value, str):
        value = _PATH_VAR.sub(lambda match: PATHS[match.group(1)], value)
        return value if item is None else value.replace("${item}", item)
    if isinstance(value, list):
        return [substitute(entry, item) for entry in value]
    if isinstance(value, dict):
        return {substitute(key, item): substitute(entry, item) for key, entry in value.items()}
    return value


# dvc.yaml with the paths filled in; `${item}` and `${models}` are left as written.
DVC_YAML: dict = substitute({key: value for key, value in RAW.items() if key != "vars"})


def stage_definition(stage: str, model: str | None = None) -> dict:
    """Stage `stage` (for `model`, when it runs per model), every variable filled in."""
    definition = RAW["stages"][stage]
    if ("foreach" in definition) != (model is not None):
        raise ValueError(
            f"stage {stage!r}: a model name is {'needed' if model is None else 'not taken'}"
        )
    return substitute(definition.get("do", definition), model)


def stage_argv(stage: str, model: str | None = None) -> list[str]:
    """The command dvc.yaml runs for `stage`, split: `python -m stages.<stage> ...`."""
    return shlex.split(stage_definition(stage, model)["cmd"])
