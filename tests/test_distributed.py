"""The same training code on two replicas: a CPU split into two logical devices."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import REPO_ROOT

SCRIPT = textwrap.dedent(
    """
    import sys
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )

    from pipeline.params import parse_params
    from pipeline.training import TrainPaths, fit_model

    params = parse_params({
        "gan": {
            "network": {"latent_dim": 8, "generator_units": [16], "discriminator_units": [16]},
            "train": {"epochs": 1, "batch_size": 400, "grid_size": 2, "strategy": "mirrored"},
        }
    }).model("gan")
    out = sys.argv[2]
    paths = TrainPaths(sys.argv[1], out + "/out", out + "/checkpoint")
    model = fit_model(params, 0, paths, "fp", verbose=0)
    print("replicas", model.distribute_strategy.num_replicas_in_sync)
    print("g_steps", int(model.g_optimizer.iterations.numpy()))
    print("d_steps", int(model.d_optimizer.iterations.numpy()))
    """
)


def test_training_runs_mirrored_over_two_replicas(tmp_path, mnist5k_dir):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(mnist5k_dir), str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert "replicas 2" in lines
    # 4,000 training images in global batches of 400: 10 steps for each network.
    assert "g_steps 10" in lines and "d_steps 10" in lines
    assert (tmp_path / "out" / "generator.keras").is_file()
