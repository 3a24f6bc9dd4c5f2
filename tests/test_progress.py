"""What a person sees while training runs: one plain line per epoch, with the time left."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO_ROOT
from test_training import CrashAfterEpoch, paths_in, tiny_params

from pipeline.epoch_progress import epoch_line, seconds_per_epoch
from pipeline.progress import duration_text, stage_label, timed_stage
from pipeline.training.session import fit_model

LABEL = "train@gan (model 1 of 4)"
# `train@gan (model 1 of 4): epoch 2/3, 0.09 s/epoch, about 0.09 s left; d_loss 1.02, ...`
LINE = re.compile(
    r"(?P<label>.+): epoch (?P<epoch>\d+)/(?P<epochs>\d+), (?P<per>[\d.]+ s|\d+ min \d+ s)/epoch, "
    r"(?P<left>about (?P<time_left>.+) left|done)(?:; (?P<metrics>.+))?"
)


def test_durations_read_as_a_person_says_them():
    assert duration_text(0.421) == "0.42 s"
    assert duration_text(2.14) == "2.1 s"
    assert duration_text(35.4) == "35 s"
    assert duration_text(59.6) == "1 min 0 s"
    assert duration_text(395) == "6 min 35 s"
    assert duration_text(2 * 3600 + 5 * 60 + 10) == "2 h 05 min"


def test_the_label_names_the_stage_and_the_models_place_when_it_is_known():
    models = ["gan", "cgan", "wgan", "wgan_gp"]
    assert stage_label("train", "cgan", models) == "train@cgan (model 2 of 4)"
    # Without the list, or for a model it does not hold, the name alone.
    assert stage_label("train", "cgan") == "train@cgan"
    assert stage_label("train", "sngan", models) == "train@sngan"
    assert stage_label("evaluator") == "evaluator"


def test_the_time_left_leaves_out_the_compiling_epoch_once_others_are_measured():
    assert seconds_per_epoch([5.0]) == 5.0
    assert seconds_per_epoch([5.0, 1.0, 2.0]) == 1.5
    assert epoch_line(LABEL, 12, 200, 2.1) == (
        "train@gan (model 1 of 4): epoch 12/200, 2.1 s/epoch, about 6 min 35 s left"
    )
    assert epoch_line(LABEL, 200, 200, 2.1, {"d_loss": 0.69314, "g_loss": 1.5}) == (
        "train@gan (model 1 of 4): epoch 200/200, 2.1 s/epoch, done; d_loss 0.6931, g_loss 1.5"
    )


def test_a_stage_says_how_long_it_took_only_when_it_succeeded(capsys):
    with timed_stage("evaluate@gan"):
        pass
    assert re.fullmatch(r"evaluate@gan: finished in [\d.]+ s\n", capsys.readouterr().out)
    with pytest.raises(ValueError), timed_stage("evaluate@gan"):
        raise ValueError("a failure says so itself")
    assert capsys.readouterr().out == ""


def progress_lines(out: str) -> list[re.Match]:
    matches = [LINE.fullmatch(line) for line in out.splitlines()]
    assert all(matches), out
    return matches  # type: ignore[return-value]


def test_a_fit_in_a_log_prints_one_plain_line_per_epoch(tmp_path, mnist5k_dir, capsys):
    fit_model(tiny_params(epochs=3), 0, paths_in(tmp_path, mnist5k_dir), "fp", progress=LABEL)
    out = capsys.readouterr().out  # not a terminal: no progress bar, no Keras line
    assert "\r" not in out
    lines = progress_lines(out)
    assert [(m["label"], m["epoch"], m["epochs"]) for m in lines] == [
        (LABEL, "1", "3"),
        (LABEL, "2", "3"),
        (LABEL, "3", "3"),
    ]
    assert [m["left"] == "done" for m in lines] == [False, False, True]
    for match in lines:
        # In a log the line carries the epoch's losses, which Keras no longer prints.
        assert match["metrics"].startswith("d_loss "), match.string
        assert ", g_loss " in match["metrics"], match.string


def test_a_resumed_fit_counts_its_epochs_from_the_checkpoint(tmp_path, mnist5k_dir, capsys):
    params, paths = tiny_params(epochs=4), paths_in(tmp_path, mnist5k_dir)
    with pytest.raises(KeyboardInterrupt):
        fit_model(params, 0, paths, "fp", callbacks=[CrashAfterEpoch(2)], progress=LABEL)
    capsys.readouterr()
    fit_model(params, 0, paths, "fp", progress=LABEL)
    first, last = progress_lines(capsys.readouterr().out)
    assert (first["epoch"], first["epochs"], last["epoch"], last["left"]) == ("3", "4", "4", "done")
    # One epoch to go, timed by the one epoch this process has run: not
    # spread over the two epochs the killed process ran.
    assert first["time_left"] == first["per"], first.string


TERMINAL_FIT = textwrap.dedent(
    """
    import sys
    from pipeline.params import parse_params
    from pipeline.training.paths import TrainPaths
    from pipeline.training.session import fit_model

    data, out = sys.argv[1:3]
    network = {"latent_dim": 16, "generator_units": [32], "discriminator_units": [32]}
    train = {"epochs": 2, "batch_size": 500, "grid_size": 2}
    params = parse_params({"models": ["gan"], "gan": {"network": network, "train": train}})
    paths = TrainPaths(data, f"{out}/out", f"{out}/checkpoint")
    fit_model(params.model("gan"), 0, paths, "fp", progress="train@gan")
    """
)


def run_on_a_terminal(command: list[str]) -> str:
    """What `command` writes to a terminal (a pseudo-terminal) on stdout, until it exits."""
    controller, terminal = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    child = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=terminal, stderr=subprocess.DEVNULL
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the child has exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    assert child.wait(timeout=120) == 0
    return b"".join(chunks).decode(errors="replace")


def test_on_a_terminal_the_line_follows_the_finished_progress_bar(tmp_path, mnist5k_dir):
    shown = run_on_a_terminal([sys.executable, "-c", TERMINAL_FIT, str(mnist5k_dir), str(tmp_path)])
    # A terminal ends lines with \r\n; Keras' bar redraws itself with \r alone.
    lines = shown.replace("\r\n", "\n").split("\n")
    ours = [line for line in lines if "train@gan: epoch" in line]
    assert len(ours) == 2, shown
    # Each on a line of its own, after the bar's last redraw: not run into it.
    for line in ours:
        assert LINE.fullmatch(line), repr(line)
        assert line.startswith("train@gan: epoch")
    # The bar shows the losses on a terminal, so the line does not repeat them.
    assert all(LINE.fullmatch(line)["metrics"] is None for line in ours)
    assert "Epoch 2/2" in shown
