"""The same training code on two replicas: a CPU split into two logical devices."""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO_ROOT
from workspace import TINY_PARAMS, ready_to_train, stage_command, write_params


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now (held open together, so they are distinct)."""
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def tf_config(ports: list[int], index: int) -> str:
    workers = [f"127.0.0.1:{port}" for port in ports]
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


def start_workers(workspace, ports: list[int], chief_kill_point: str | None = None):
    """Both workers of the train stage, worker 0 (the chief) optionally under tests/killer.py."""
    command, env = stage_command("train", "gan")
    commands = [command, command]
    if chief_kill_point:
        # [python, -m, stages.train, gan, ...] -> [python, killer.py, POINT, train, gan, ...]
        killer = str(REPO_ROOT / "tests" / "killer.py")
        commands[0] = [command[0], killer, chief_kill_point, "train", *command[3:]]
    return [
        subprocess.Popen(
            commands[index],
            cwd=workspace,
            # System metrics sampled every second (MLflow's default is 10 s).
            env={
                **env,
                "TF_CONFIG": tf_config(ports, index),
                "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL": "1",
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in (0, 1)
    ]


def finish(workers, timeout: float) -> list[tuple[str, str]]:
    """Each worker's (stdout, stderr); one still running after `timeout` s is killed."""
    outputs = []
    for worker in workers:
        try:
            outputs.append(worker.communicate(timeout=timeout))
        except subprocess.TimeoutExpired:
            worker.kill()
            outputs.append(worker.communicate())
    return outputs


@pytest.mark.slow
def test_two_workers_on_loopback_resume_after_a_kill_and_only_the_chief_writes(tmp_path):
    # The shared tiny workspace (its data and evaluator), trained on two workers.
    ready_to_train(tmp_path, TINY_PARAMS)
    params = copy.deepcopy(TINY_PARAMS)
    params["gan"]["train"].update(strategy="multi_worker", epochs=2)
    write_params(tmp_path, params)
    # The chief is SIGKILLed after epoch 2's metrics, before its checkpoint:
    # its checkpoint holds epoch 1, and the worker has finished epoch 2.
    killed = start_workers(tmp_path, free_ports(2), "between_metrics_and_checkpoint")
    finish(killed, timeout=300)
    assert killed[0].returncode == -9
    assert not (tmp_path / "trained" / "gan").exists()

    workers = start_workers(tmp_path, free_ports(2))
    outputs = finish(workers, timeout=300)
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr[-3000:]
    assert "resumed from epoch 1 of 2" in outputs[0][0]
    assert "(MLflow run" in outputs[0][0]
    assert "non-chief worker" in outputs[1][0]
    out = tmp_path / "trained" / "gan"
    assert (out / "generator.keras").is_file() and (out / "run.json").is_file()
    history = (out / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in history[1:]] == ["1", "2"]
    # The worker's own folder is gone, and the chief's checkpoint with it; the
    # model's lock file stays (pipeline/locking.py: it is never deleted).
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["gan.lock"]
    run = json.loads((out / "run.json").read_text())
    recorded = mlflow_run(tmp_path, run["run_id"])
    assert recorded.info.status == "FINISHED"
    assert "system/cpu_utilization_percentage" in recorded.data.metrics
    tags = recorded.data.tags
    assert tags["devices.replicas"] == "2" and tags["devices.workers"] == "2"
    assert tags["devices.strategy"] == "multi_worker"
    assert tags["devices.precision"] == "float32" and tags["devices.xla"] == "false"


def mlflow_run(workspace, run_id: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{workspace / 'mlflow' / 'mlflow.db'}")
    return client.get_run(run_id)


# The same training code on one replica and on two (a CPU split into two
# logical devices, MirroredStrategy) at the same global batch: the same noise (each replica
# keeps its slice of the global batch's), the same data, gradients averaged over
# the global batch. Kernels and dropout masks differ, so the runs drift apart a
# little; measured after 3 epochs: losses within 2% (gan 1.245 vs 1.237, wgan_gp
# -9.14 vs -9.12). The stated tolerance: 5% of the loss, or 0.05 near zero.
REPLICAS_SCRIPT = textwrap.dedent(
    """
    import csv, json, os, sys
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    from pipeline.params import parse_params
    from pipeline.training.paths import TrainPaths
    from pipeline.training.session import fit_model

    data, out, family = sys.argv[1:4]
    result = {}
    for strategy in ("default", "mirrored"):
        train = {"epochs": 3, "batch_size": 200, "grid_size": 2, "strategy": strategy,
                 "eval_every": 0, "d_steps": 2 if family == "wgan_gp" else 1}
        network = {"kind": "mlp", "latent_dim": 16, "generator_units": [64],
                   "discriminator_units": [64]}
        section = {"family": family, "network": network, "train": train}
        params = parse_params({"models": ["m"], "m": section}).model("m")
        paths = TrainPaths(data, f"{out}/{strategy}/out", f"{out}/{strategy}/ckpt")
        model = fit_model(params, 0, paths, "fp", verbose=0)
        rows = list(csv.DictReader(open(f"{out}/{strategy}/out/history.csv")))
        result[strategy] = {
            "replicas": model.distribute_strategy.num_replicas_in_sync,
            "losses": {k: float(rows[-1][k]) for k in ("d_loss", "g_loss")},
            "g_steps": int(model.g_optimizer.iterations.numpy()),
            "d_steps": int(model.d_optimizer.iterations.numpy()),
            "generator": os.path.isfile(f"{out}/{strategy}/out/generator.keras"),
        }
    print(json.dumps(result))
    """
)


@pytest.mark.parametrize("family", ["gan", "wgan_gp"])
def test_one_and_two_replicas_end_within_tolerance(tmp_path, mnist5k_dir, family):
    done = subprocess.run(
        [sys.executable, "-c", REPLICAS_SCRIPT, str(mnist5k_dir), str(tmp_path), family],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    one, two = result["default"], result["mirrored"]
    assert (one["replicas"], two["replicas"]) == (1, 2)
    # 4,000 training images, 3 epochs, each step taking a global batch of 200
    # for each of its d_steps (each replica its half): the same steps on either.
    d_steps = 2 if family == "wgan_gp" else 1
    assert one["g_steps"] == two["g_steps"] == 3 * 4000 // (200 * d_steps)
    assert one["d_steps"] == two["d_steps"] == 3 * 4000 // 200
    assert one["generator"] and two["generator"]
    for name, value in one["losses"].items():
        assert two["losses"][name] == pytest.approx(value, rel=0.05, abs=0.05), name


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "needs TF_CONFIG"),
        ("{not json", "TF_CONFIG is not JSON"),
        ('{"task": {"type": "worker", "index": 0}}', "no cluster of workers"),
        ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {}}', "takes only"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}', "index"),
    ],
)
def test_a_bad_tf_config_is_refused_in_one_line(monkeypatch, value, fragment):
    from pipeline import cluster
    from pipeline.errors import PipelineError

    monkeypatch.setenv("TF_CONFIG", value)
    with pytest.raises(PipelineError, match=fragment) as raised:
        cluster.check_tf_config()
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("task", "chief"),
    [({"type": "worker", "index": 0}, True), ({"type": "worker", "index": 1}, False)],
)
def test_worker_zero_is_the_chief(monkeypatch, task, chief):
    from pipeline import cluster

    config = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": task}
    monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    assert cluster.is_chief() is chief
    assert cluster.worker_addresses() == ["127.0.0.1:1", "127.0.0.1:2"]
