"""TensorFlow's graph rewriter logs no error while a spectral-norm model trains."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from conftest import REPO_ROOT

# A DCGAN discriminator of LeakyReLU convolutions under spectral norm: the
# remapper's fusion fails on its gradient graph and logs `E0000 ... remapper
# failed` unless the model turns it off (pipeline/backend/tensorflow.py). Small
# 8x8 images and 4 filters fail just the same without it (checked by hand).
SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from pipeline.models.presets import with_preset
    from pipeline.params import ModelParams
    from pipeline.training.model import build_model

    section = with_preset("projection", {
        "family": "projection",
        "network": {"kind": "dcgan", "filters": 4, "discriminator_norm": "none"},
    })
    params = ModelParams.model_validate(section)
    model = build_model(params, (8, 8, 1), seed=0, num_classes=10)
    images = np.zeros((16, 8, 8, 1), "float32")
    labels = np.arange(16) % 10
    model.train_on_batch(images, labels)
    print("trained")
    """
)


def test_a_spectral_norm_model_trains_without_a_remapper_error():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0", "KERAS_BACKEND": "tensorflow"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and "trained" in done.stdout, done.stderr[-3000:]
    assert "remapper failed" not in done.stderr, done.stderr[-3000:]
