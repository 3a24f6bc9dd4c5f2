"""The gradient functions of the running Keras backend (see `tensorflow.py` for the contract)."""

from __future__ import annotations

import keras

from pipeline.errors import PipelineError

BACKEND = keras.backend.backend()

if BACKEND == "tensorflow":
    from pipeline.models.gradients.tensorflow import (
        input_gradients,
        minimise,
        replica_index,
        replicas_in_sync,
        step_results,
    )
else:  # pragma: no cover - depends on KERAS_BACKEND
    raise PipelineError(
        f"KERAS_BACKEND={BACKEND}: models train on tensorflow only so far; "
        f"a pipeline/models/gradients/{BACKEND}.py with the same functions adds it"
    )

__all__ = ["input_gradients", "minimise", "replica_index", "replicas_in_sync", "step_results"]
