"""Run a params profile end to end and gather its report: what the GPU workflow runs.

    python scripts/reproduce.py --profile profiles/gpu.yaml [--set KEY=VALUE ...]
        [--baseline main] [--out ci-report]

The workflow (.github/workflows/reproduce.yml) calls this one script for every
step that has logic in it, so that the logic is tested Python
(tests/test_ci.py) rather than untested YAML. In order:

1. check the profile and every `--set` before any work: a mistake is one line
   on stderr (`error: ...`) and exit code 2, as a stage's mistakes are;
2. print the devices (`nvidia-smi -L`, and what TensorFlow sees), so that the
   CI log shows whether the GPUs were found;
3. copy the profile over params.yaml and run `dvc exp run -S KEY=VALUE ...`,
   its output streamed as it comes;
4. write `<out>/report.md` (the devices, `dvc metrics diff <baseline>`, the
   pipeline's own summary, the sample grids) and collect beside it the
   grids, a copy of metrics/ and the local MLflow store as mlflow.tar.gz.

Step 4 runs even when the experiment fails, so that a failed CI run still
leaves a report saying how far it got; the exit code is then 1.

The workspace is the repository that holds this script, whatever the working
folder; `--profile` and `--out` are taken relative to the working folder.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a file, the repository is not on the path
    sys.path.insert(0, str(ROOT))

from pipeline.cli import OneLineArgumentParser, path_argument, run_stage  # noqa: E402
from pipeline.errors import RunFailed  # noqa: E402
from pipeline.params import Params, ParamsError, load_params, parse_params  # noqa: E402
from pipeline.tracking import store  # noqa: E402

PARAMS_FILE = "params.yaml"
SUMMARY = Path("reports/summary.md")
METRICS_DIR = Path("metrics")
EXPORTS_DIR = Path("exports")
REPORT = "report.md"
GRIDS = "grids"
MLFLOW_ARCHIVE = "mlflow.tar.gz"
# What this script writes under --out, and so all it replaces there: --out may
# be a folder that holds other things, which are left alone.
OUTPUTS = (REPORT, GRIDS, METRICS_DIR.name, MLFLOW_ARCHIVE)
# Some file systems keep modification times to the second or two: a file this
# close to the run's start is taken as the run's own.
MTIME_SLACK_S = 2.0
DEVICE_TIMEOUT_S = 300  # importing TensorFlow and probing CUDA can take a while
LIST_DEVICES = (
    "import tensorflow as tf\n"
    "for d in tf.config.list_physical_devices():\n"
    "    print(f'{d.device_type}: {d.name}')\n"
)
OVERRIDE_FORMS = (
    "KEY=VALUE with a dotted key of the profile, +KEY=VALUE to add a key, ~KEY to drop one "
    "(Hydra's override syntax, as `dvc exp run -S` takes it)"
)


@dataclass
class Outcome:
    """What the run did, for the report: filled in step by step."""

    profile: Path
    overrides: list[str]
    baseline: str
    params: Params
    devices: list[str] = field(default_factory=list)
    exit_code: int | None = None  # of `dvc exp run`; None if it never ended
    interrupted: bool = False
    started: float = field(default_factory=time.time)

    @property
    def stale_before(self) -> float | None:
        """After a failed run, files older than its start are an earlier run's; else None.

        After a successful one every output is current, even one DVC left
        untouched because nothing it depends on changed.
        """
        return None if self.exit_code == 0 else self.started


# --- arguments and checks ------------------------------------------------------


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; argparse's own mistakes are one line and exit code 2, as a stage's."""
    parser = OneLineArgumentParser(
        prog="python scripts/reproduce.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--profile",
        type=path_argument,
        required=True,
        metavar="PATH",
        help="a complete params file (same schema as params.yaml), e.g. profiles/gpu.yaml",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change one key of the profile, as `dvc exp run -S` does (repeatable)",
    )
    parser.add_argument(
        "--baseline",
        default="main",
        metavar="REV",
        help="the git revision `dvc metrics diff` compares against (default: main)",
    )
    parser.add_argument(
        "--out",
        type=path_argument,
        default=Path("ci-report"),
        metavar="DIR",
        help="where report.md, grids/, metrics/ and mlflow.tar.gz go (default: ci-report)",
    )
    return parser.parse_args(argv)


def check_profile(profile: Path, overrides: list[str]) -> Params:
    """The profile with the overrides applied, validated before anything is touched.

    The overrides are applied by DVC's own function, the one `dvc exp run -S`
    uses, to a scratch copy: what is checked here is exactly what the run
    will read, and a bad override fails now rather than after the data is
    prepared.

    Raises:
        ParamsError: one line naming the file or the override, and what is allowed.
    """
    params = load_params(profile)
    if not overrides:
        return params
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / PARAMS_FILE
        shutil.copyfile(profile, copy)
        for override in overrides:
            _apply_override(copy, override)
        raw = yaml.safe_load(copy.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{profile} with --set: expected a mapping of sections")
    return parse_params(raw, source=f"{profile} with --set {' '.join(overrides)}")


def _apply_override(path: Path, override: str) -> None:
    """Apply one `--set` to `path` as DVC would, or say in one line why it cannot be."""
    from dvc.utils.hydra import apply_overrides

    try:
        apply_overrides(path, [override])
    except Exception as err:  # DVC wraps Hydra's parse and composition errors
        reason = _hydra_reason(err.__cause__ or err)
        raise ParamsError(f"--set {override!r}: {reason}; allowed: {OVERRIDE_FORMS}") from None


def _hydra_reason(err: BaseException) -> str:
    """Hydra's message on one line: its lines joined, less the link to its grammar page."""
    lines = [line.strip().rstrip(".") for line in str(err).splitlines()]
    kept = [line for line in lines if line and not line.startswith("See http")]
    return "; ".join(kept)[:300] or type(err).__name__


def check_out_dir(out: Path, workspace: Path) -> None:
    """Refuse an unusable `--out` before the (long) run rather than after it.

    The repository root is refused too: its metrics/ would be replaced by
    their own copy.
    """
    if out.exists() and not out.is_dir():
        raise ParamsError(f"--out {out}: is a file (allowed: a folder, made if missing)")
    if out.resolve() == workspace.resolve():
        raise ParamsError(
            f"--out {out}: is the repository itself (allowed: a folder of its own, e.g. ci-report)"
        )


# --- devices ---------------------------------------------------------------------


def list_devices() -> list[str]:
    """What the GPUs and TensorFlow report, one line each, printed for the CI log.

    TensorFlow is asked in a subprocess so that this script never loads it
    (and never holds GPU memory while the pipeline trains).
    """
    lines = _nvidia_smi() + _tensorflow_devices()
    print("Devices:", *(f"  {line}" for line in lines), sep="\n", flush=True)
    return lines


def _nvidia_smi() -> list[str]:
    """`nvidia-smi -L`, or a line saying why there is nothing to show."""
    if shutil.which("nvidia-smi") is None:
        return ["nvidia-smi: not found (no NVIDIA driver on this machine)"]
    done = _run_quietly(["nvidia-smi", "-L"])
    if done is None or done.returncode != 0:
        reason = "timed out" if done is None else _first_line(done.stderr or done.stdout)
        return [f"nvidia-smi -L failed: {reason}"]
    return [f"nvidia-smi: {line}" for line in done.stdout.splitlines() if line.strip()]


def _tensorflow_devices() -> list[str]:
    """TensorFlow's physical devices, or a line saying why it could not list them."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = _run_quietly([sys.executable, "-c", LIST_DEVICES], env=env)
    if done is None or done.returncode != 0:
        reason = "timed out" if done is None else _first_line(done.stderr)
        return [f"tensorflow: cannot list devices ({reason})"]
    return [f"tensorflow: {line}" for line in done.stdout.splitlines() if line.strip()]


def _run_quietly(
    command: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess | None:
    """Run a short command and capture its output; None if it did not finish in time."""
    try:
        return subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=DEVICE_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return None


# --- the run ---------------------------------------------------------------------


def switch_profile(profile: Path, workspace: Path) -> None:
    """Make the profile the workspace's params.yaml, which every stage reads."""
    target = workspace / PARAMS_FILE
    if profile.resolve() != target.resolve():
        shutil.copyfile(profile, target)


def run_experiment(overrides: list[str], workspace: Path) -> int:
    """`dvc exp run -S ...` in the workspace, its output streamed; returns its exit code.

    This interpreter's folder goes first on PATH, so that the `python` every
    stage command names is the one running this script (the venv's), even
    when the venv was never activated.
    """
    command = [sys.executable, "-m", "dvc", "exp", "run"]
    for override in overrides:
        command += ["-S", override]
    path = os.environ.get("PATH", "")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{path}"}
    print(f"$ dvc exp run {' '.join(f'-S {o}' for o in overrides)}".rstrip(), flush=True)
    with subprocess.Popen(command, cwd=workspace, env=env) as process:
        try:
            return process.wait()
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM from a CI timeout (run_stage)
            process.terminate()  # let DVC stop its stage and record it, as on Ctrl-C
            process.wait()
            raise


# --- the report --------------------------------------------------------------------


def header_section(outcome: Outcome, workspace: Path) -> str:
    """The title and what ran: profile, overrides, commit, result."""
    overrides = ", ".join(f"`{o}`" for o in outcome.overrides) or "none"
    if outcome.interrupted:
        result = "**interrupted**: what follows is what the workspace holds"
    elif outcome.exit_code == 0:
        result = "succeeded"
    elif outcome.exit_code is None:
        result = "**not run**"
    else:
        result = (
            f"**failed**: `dvc exp run` exited {outcome.exit_code}; "
            "what follows is what the workspace holds"
        )
    rows = [
        ("profile", f"`{outcome.profile}`"),
        ("overrides", overrides),
        ("commit", f"`{_git(workspace, 'rev-parse', '--short', 'HEAD') or 'unknown'}`"),
        ("models", ", ".join(f"`{m}`" for m in outcome.params.models)),
        ("run", result),
    ]
    table = "\n".join(f"| {key} | {value} |" for key, value in rows)
    return f"# Reproduction of `{outcome.profile}`\n\n| | |\n|---|---|\n{table}\n"


def devices_section(devices: list[str]) -> str:
    """The devices, as the CI log printed them."""
    body = "\n".join(devices) or "none listed"
    return f"## Devices\n\n```text\n{body}\n```\n"


def metrics_diff_section(baseline: str, workspace: Path) -> str:
    """`dvc metrics diff <baseline> --md`: the workspace's metrics against the baseline's.

    A baseline that is not a revision here (a fresh repository, or a shallow
    clone without the base branch) is said in the report instead of failing
    the whole run after hours of training.
    """
    title = f"## Metrics against `{baseline}`\n\n"
    if not _git(workspace, "rev-parse", "--verify", "--quiet", f"{baseline}^{{commit}}"):
        return title + (
            f"No diff: `{baseline}` is not a revision of this repository (a fresh "
            "repository, or a shallow clone: check out with `fetch-depth: 0`).\n"
        )
    done = subprocess.run(
        [sys.executable, "-m", "dvc", "metrics", "diff", baseline, "--md"],
        cwd=workspace,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        reason = _first_line(done.stderr or done.stdout)
        return title + f"No diff: `dvc metrics diff` failed ({reason}).\n"
    table = done.stdout.strip()
    return title + (table + "\n" if table else f"No metric differs from `{baseline}`.\n")


def summary_section(workspace: Path, stale_before: float | None = None) -> str:
    """reports/summary.md, its headings one level down and its grids pointing at grids/.

    Its own title becomes the section's heading.

    After a failed run, a summary the run did not rewrite describes an
    earlier run (the committed one, in CI): it is left out, not shown as this one's.
    """
    path = workspace / SUMMARY
    if not path.is_file() or _older(path, stale_before):
        return f"## Summary\n\n`{SUMMARY}` was not written: the run stopped before the report.\n"
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^(#+) ", r"#\1 ", text, flags=re.MULTILINE)
    text = re.sub(r"\]\(\.\./exports/([^/)]+)/grid\.png\)", rf"]({GRIDS}/\1.png)", text)
    return f"{text.strip()}\n"


def grids_section(grids: dict[str, bool | None]) -> str:
    """One line per model: its final sample grid (marked if an earlier run's), or none."""
    lines = []
    for model, current in grids.items():
        if current is None:
            lines.append(f"- `{model}`: no grid")
        else:
            earlier = "" if current else " (from an earlier run: this one failed before export)"
            lines.append(f"- `{model}`{earlier}: ![{model}]({GRIDS}/{model}.png)")
    note = "The images are in this report's folder (the workflow's `ci-report` artifact)."
    return "## Sample grids\n\n" + "\n".join(lines) + f"\n\n{note}\n"


def mlflow_section(line: str) -> str:
    return f"## MLflow\n\n{line}\n"


def _first_line(text: str) -> str:
    """The first non-blank line of a command's output, for a one-line reason."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "no output")[:200]


def _git(workspace: Path, *args: str) -> str:
    """A git query's output, or "" when it fails."""
    done = subprocess.run(["git", *args], cwd=workspace, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


# --- the artifacts -------------------------------------------------------------------


def clear_outputs(out: Path) -> None:
    """Remove what an earlier run left under --out (only the names this script writes)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def copy_grids(
    models: list[str], workspace: Path, out: Path, stale_before: float | None = None
) -> dict[str, bool | None]:
    """exports/<model>/grid.png to <out>/grids/<model>.png.

    Returns:
        Per model: True for a grid of this run, False for an earlier run's
        (see `Outcome.stale_before`), None for no grid.
    """
    (out / GRIDS).mkdir(parents=True, exist_ok=True)
    copied: dict[str, bool | None] = {}
    for model in models:
        source = workspace / EXPORTS_DIR / model / "grid.png"
        if not source.is_file():
            copied[model] = None
            continue
        shutil.copyfile(source, out / GRIDS / f"{model}.png")
        copied[model] = not _older(source, stale_before)
    return copied


def _older(path: Path, since: float | None) -> bool:
    """Whether `path` was last written before `since` (never, when `since` is None)."""
    return since is not None and path.stat().st_mtime < since - MTIME_SLACK_S


def copy_metrics(workspace: Path, out: Path) -> None:
    """metrics/ (with metrics/headline/) as the run left it."""
    source = workspace / METRICS_DIR
    if source.is_dir():
        shutil.copytree(source, out / METRICS_DIR.name)


def collect_mlflow(workspace: Path, out: Path, experiment: str) -> str:
    """Pack the local MLflow store into <out>, or say which server holds the runs.

    A server's address is given as scheme and host only: the report may be
    posted as a pull-request comment, and the URI comes from a secret that
    may carry credentials or a private path.
    """
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if uri:  # the pipeline logs wherever it names (pipeline/tracking/store.py)
        parsed = urlparse(uri)
        where = f"{parsed.scheme}://{parsed.hostname}" if parsed.hostname else parsed.scheme
        kind = "the tracking server" if store.is_server(uri) else "the store"
        return f"Runs went to {kind} at `{where}` (MLFLOW_TRACKING_URI), experiment `{experiment}`."
    folder = workspace / store.STORE_DIR
    if not (folder / store.DB_FILE).is_file():
        return f"No local MLflow store: `{store.STORE_DIR}/{store.DB_FILE}` was not written."
    with tarfile.open(out / MLFLOW_ARCHIVE, "w:gz") as archive:
        archive.add(folder, arcname=store.STORE_DIR, filter=_skip_locks)
    return (
        f"The local store, experiment `{experiment}`, is packed as `{MLFLOW_ARCHIVE}`. To browse "
        f"it: `tar xzf {MLFLOW_ARCHIVE} && mlflow ui --backend-store-uri "
        f"sqlite:///{store.STORE_DIR}/{store.DB_FILE} --artifacts-destination "
        f"{store.STORE_DIR}/{store.ARTIFACTS_DIR}`."
    )


def _skip_locks(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Leave out lock files: a stale one would make the unpacked store wait for nobody."""
    return None if member.name.endswith(".lock") else member


def write_report(outcome: Outcome, workspace: Path, out: Path) -> Path:
    """Gather every artifact under `out` and write report.md; returns its path."""
    clear_outputs(out)
    grids = copy_grids(list(outcome.params.models), workspace, out, outcome.stale_before)
    copy_metrics(workspace, out)
    mlflow_line = collect_mlflow(workspace, out, outcome.params.mlflow.experiment)
    sections = [
        header_section(outcome, workspace),
        devices_section(outcome.devices),
        metrics_diff_section(outcome.baseline, workspace),
        summary_section(workspace, outcome.stale_before),
        grids_section(grids),
        mlflow_section(mlflow_line),
    ]
    report = out / REPORT
    report.write_text("\n".join(sections), encoding="utf-8")
    print(f"Report: {report}", flush=True)
    return report


# --- main ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Check, list the devices, run, report; see the module's docstring."""
    args = parse_arguments(argv)
    profile, out = args.profile.absolute(), args.out.absolute()
    params = check_profile(profile, args.overrides)
    check_out_dir(out, ROOT)
    os.chdir(ROOT)  # store.* and DVC find the repository from the working folder
    outcome = Outcome(_shown(profile), args.overrides, args.baseline, params)
    outcome.devices = list_devices()
    outcome.started = time.time()
    switch_profile(profile, ROOT)
    try:
        outcome.exit_code = run_experiment(args.overrides, ROOT)
    except KeyboardInterrupt:
        outcome.interrupted = True
        raise
    finally:  # a report even when the run fails or is interrupted
        write_report(outcome, ROOT, out)
    if outcome.exit_code != 0:
        raise RunFailed(
            f"dvc exp run exited {outcome.exit_code}; {out / REPORT} says how far it got"
        )


def _shown(path: Path) -> Path:
    """`path` relative to the repository when it lies inside, as the report shows it."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


if __name__ == "__main__":
    run_stage(main)
