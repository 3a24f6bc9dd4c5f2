"""Everything that differs between Keras backends, one module per backend.

The way Keras splits `keras/src/backend/{tensorflow,jax}/trainer.py`: the
model's step (`pipeline.models.adversarial`) is written once in `keras.ops`
and reaches the backend only through the functions this package exports.
Each backend module defines all of them:

- `minimise(loss_fn, network, optimizer)`: one optimizer step on a network.
- `input_gradients(fn, inputs, loss_scale)`: a differentiable gradient with
  respect to the inputs (the penalties' nested gradient).
- `replica_index()`, `replicas_in_sync()`: this replica's place in a
  data-parallel step.
- `step_results(results)`: the step's results shaped for the trainer.
- `attach_optimizers(model, d, g)`: let the trainer carry both optimizers.
- `run_train_step(model, step, *args)`: call the step the way the backend's
  trainer calls `train_step`.

and the runtime around it:

- `seed_everything(seed, deterministic)`: seeds, and deterministic kernels.
- `avoid_failing_graph_rewrites(model)`: TensorFlow's remapper off where it
  fails (spectral norm), which it logs as an error every run.
- `select_placement(name)`: the devices `train.strategy` names (a
  tf.distribute strategy; a Keras `DataParallel` on JAX), with
  `num_replicas_in_sync` and `scope()`; `placement_name` names it back.
- `uses_xla(setting, placement)`: `train.jit_compile` resolved;
  `deterministic_ops(xla)`: whether the kernels then are deterministic.
- `gpu_names()`, `device_names()`: the devices the backend sees, for the
  run's tags and the benchmark.
- `check_workers_agree(placement, epoch)`: every worker resumes alike.
- `training_batches(...)`: the seeded batch stream `fit` takes;
  `endless(batch)`: one batch forever (benchmarks).

Importing this package imports the running backend's module only, so a JAX
process never loads TensorFlow.
"""

from __future__ import annotations

import keras

from pipeline.errors import PipelineError

NAME = keras.backend.backend()

if NAME == "tensorflow":
    from pipeline.backend.tensorflow import (
        attach_optimizers,
        avoid_failing_graph_rewrites,
        check_workers_agree,
        deterministic_ops,
        device_names,
        endless,
        gpu_names,
        input_gradients,
        minimise,
        placement_name,
        replica_index,
        replicas_in_sync,
        run_train_step,
        seed_everything,
        select_placement,
        step_results,
        training_batches,
        uses_xla,
        weight_gradients,
    )
elif NAME == "jax":
    from pipeline.backend.jax import (
        attach_optimizers,
        avoid_failing_graph_rewrites,
        check_workers_agree,
        deterministic_ops,
        device_names,
        endless,
        gpu_names,
        input_gradients,
        minimise,
        placement_name,
        replica_index,
        replicas_in_sync,
        run_train_step,
        seed_everything,
        select_placement,
        step_results,
        training_batches,
        uses_xla,
        weight_gradients,
    )
else:  # pragma: no cover - depends on KERAS_BACKEND
    raise PipelineError(
        f"KERAS_BACKEND={NAME}: models train on tensorflow and jax (the `backend` param)"
    )

__all__ = [
    "NAME",
    "attach_optimizers",
    "avoid_failing_graph_rewrites",
    "check_workers_agree",
    "deterministic_ops",
    "device_names",
    "endless",
    "gpu_names",
    "input_gradients",
    "minimise",
    "placement_name",
    "replica_index",
    "replicas_in_sync",
    "run_train_step",
    "seed_everything",
    "select_placement",
    "step_results",
    "training_batches",
    "uses_xla",
    "weight_gradients",
]
