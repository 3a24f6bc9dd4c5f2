"""The `train` section of a model: epochs, batches, optimizers, backend, devices, precision.

Shared by every kind of model (`TrainingSettings`); a noise-to-image model
adds Algorithm 1's discriminator steps (`TrainParams`).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, get_args

from pydantic import Field, model_validator

from pipeline.schema import (
    MAX_D_STEPS,
    MAX_STEPS_PER_EXECUTION,
    BatchSize,
    Epochs,
    GridSize,
    NonNegativeInt,
    PositiveFloat,
    Rate,
    SampleCount,
    Section,
)


class AdamParams(Section):
    name: Literal["adam"] = "adam"
    # No upper bound on a learning rate: a large one is a legitimate
    # experiment, and the training stage stops a run that diverges.
    learning_rate: PositiveFloat = 2e-4
    beta_1: Rate = 0.5  # DCGAN's; Keras' 0.9 makes GAN training oscillate
    beta_2: Rate = 0.999


class RMSpropParams(Section):
    name: Literal["rmsprop"] = "rmsprop"
    learning_rate: PositiveFloat = 2e-4
    momentum: Rate = 0.0


class SGDParams(Section):
    name: Literal["sgd"] = "sgd"
    learning_rate: PositiveFloat = 2e-4
    momentum: Rate = 0.0


OptimizerParams = Annotated[AdamParams | RMSpropParams | SGDParams, Field(discriminator="name")]

# The Keras backends a model can train on (and is then scored and exported on).
Backend = Literal["tensorflow", "jax"]
BACKENDS: tuple[str, ...] = get_args(Backend)


class TrainingSettings(Section):
    """How any model trains: the `train` section's keys every kind of model takes."""

    epochs: Epochs = 200
    batch_size: BatchSize = 64
    d_optimizer: OptimizerParams = AdamParams()
    g_optimizer: OptimizerParams = AdamParams()
    grid_size: GridSize = 8
    # The Keras backend this model trains on; its run.json records it, and its
    # evaluate and export stages run on it too. Its saved generator loads under either.
    backend: Backend = "tensorflow"
    # tf.distribute (keras.distribution.DataParallel on jax): `multi_worker` reads
    # the cluster from TF_CONFIG (docs/gpu.md), on tensorflow only.
    strategy: Literal["auto", "default", "mirrored", "multi_worker"] = "auto"
    # Mixed precision computes in 16 bits and keeps variables, outputs and losses
    # in float32; float16 also scales the losses (docs/gpu.md).
    precision: Literal["float32", "mixed_bfloat16", "mixed_float16"] = "float32"
    # XLA. `auto`: on with a GPU and one replica, off otherwise (as Keras decides).
    # On, TensorFlow's deterministic kernels are off: see docs/gpu.md.
    jit_compile: Literal["auto", True, False] = "auto"
    steps_per_execution: Annotated[int, Field(gt=0, le=MAX_STEPS_PER_EXECUTION)] = 1

    # How `examples_per_step` is spelt in the keys of this section, for messages.
    examples_per_step_keys: ClassVar[str] = "train.batch_size"

    @property
    def examples_per_step(self) -> int:
        """Training examples one train step consumes (the global batch)."""
        return self.batch_size

    @property
    def scales_losses(self) -> bool:
        """Whether the optimizers scale the losses: float16's narrow range needs it."""
        return self.precision == "mixed_float16"

    @model_validator(mode="after")
    def _check_backend_supports(self) -> TrainingSettings:
        if self.backend != "jax":
            return self
        if self.strategy == "multi_worker":
            raise ValueError(
                "strategy: multi_worker runs on the tensorflow backend only (its cluster "
                "comes from TF_CONFIG); allowed on jax: auto, default, mirrored"
            )
        if self.precision == "mixed_float16":
            # Keras' LossScaleOptimizer picks between two stateful updates with a
            # traced condition, which leaks traced values out of a JAX step.
            raise ValueError(
                "precision: mixed_float16 runs on the tensorflow backend only (Keras' "
                "loss scaling does not run inside a JAX step); allowed on jax: float32, "
                "mixed_bfloat16"
            )
        return self

    # Quality tracked during training: the cheap metrics, every `eval_every` epochs (0: off).
    eval_every: NonNegativeInt = 10
    eval_samples: SampleCount = 500


class TrainParams(TrainingSettings):
    """A noise-to-image model's `train` section: Algorithm 1's k discriminator steps too."""

    d_steps: Annotated[int, Field(gt=0, le=MAX_D_STEPS)] = 1

    examples_per_step_keys: ClassVar[str] = "train.batch_size * train.d_steps"

    @property
    def examples_per_step(self) -> int:
        # Each of the k discriminator updates takes its own slice of real images.
        return self.batch_size * self.d_steps
