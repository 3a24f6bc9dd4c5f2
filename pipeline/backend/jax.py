"""The train step on the JAX backend: a stateful step run statelessly.

Keras' JAX trainer calls `train_step(state, data)` inside `jax.jit` and
expects `(logs, new_state)`: it never lets a step change a variable in
place. The model's step (`pipeline.models.adversarial`) is written once, in
`keras.ops`, and changes variables as Keras code does everywhere else
(optimizer steps, trackers, the seed generator, spectral norm's vectors,
weight clipping). Here it runs inside a `keras.StatelessScope` that maps
every variable to its value in `state` and records each assignment instead
of making it; the step's new state is read off the scope at the end. This
is what Keras' own `optimizer.stateless_apply` and metric updates do, made
to hold a whole GAN step: two optimizers, nested gradients and all.

Taking a gradient is the one place that needs more: `jax.grad` wants a
pure function of the weights. `minimise` runs the loss in a child scope
whose trainable values are the function's arguments, and hands every
assignment made inside back out as auxiliary output (a traced value must
not leak out of `jax.grad`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jax
import keras

from pipeline.errors import PipelineError

if TYPE_CHECKING:  # only a type here
    from pipeline.data.stream import BatchStream

# The scopes this module opened, innermost last: a child scope starts from
# its parent's values. (Keras keeps only the innermost scope, and its getter
# is private.)
_open_scopes: list[keras.StatelessScope] = []


@jax.custom_vjp
def _read_as_leaf(parameter, value):
    """`value`, with the gradient of its readers passed to `parameter` unchanged."""
    return value


def _read_as_leaf_forward(parameter, value):
    return value, None


def _read_as_leaf_backward(_, gradient):
    return gradient, jax.numpy.zeros_like(gradient)


_read_as_leaf.defvjp(_read_as_leaf_forward, _read_as_leaf_backward)


class _StepScope(keras.StatelessScope):
    """A StatelessScope that starts from given values and tells what changed.

    Args:
        values: the starting value of each variable, keyed by `id(variable)`
            (the scope's own keying).
        parameters: the variables being differentiated, by id, with their
            traced values. A layer that assigns one of them during the
            forward pass (spectral norm overwrites its kernel) makes later
            reads see the new value while their gradient still reaches the
            variable, as TensorFlow's tape treats an assigned variable.
    """

    def __init__(self, values: dict[int, Any], parameters: dict[int, Any] | None = None):
        super().__init__()
        self.parameters = parameters or {}
        self.state_mapping = {**values, **self.parameters}
        self.initial = dict(self.state_mapping)

    def add_update(self, update) -> None:
        variable, value = update
        self.merge({id(variable): value})

    def merge(self, updates: dict[int, Any]) -> None:
        """Take assignments made in a child scope (or by a variable) as this scope's own."""
        for key, value in updates.items():
            parameter = self.parameters.get(key)
            self.state_mapping[key] = (
                value if parameter is None else _read_as_leaf(parameter, value)
            )

    def updates(self) -> dict[int, Any]:
        """The values assigned inside the scope, by variable id."""
        return {
            key: value
            for key, value in self.state_mapping.items()
            if self.initial.get(key) is not value
        }


@contextmanager
def _scope(
    values: dict[int, Any], parameters: dict[int, Any] | None = None
) -> Iterator[_StepScope]:
    scope = _StepScope(values, parameters)
    _open_scopes.append(scope)
    try:
        with scope:
            yield scope
    finally:
        _open_scopes.pop()


def _current_values() -> dict[int, Any]:
    if not _open_scopes:
        raise RuntimeError("a JAX train step's functions run inside `train_step` only")
    return _open_scopes[-1].state_mapping


def _functional(fn: Callable, variables: Sequence[keras.Variable]) -> Callable:
    """`fn` as a pure function of `variables`' values: (values) -> (output, updates)."""
    parent = _current_values()

    def pure(values):
        parameters = {id(v): value for v, value in zip(variables, values, strict=True)}
        with _scope(parent, parameters) as scope:
            output = fn()
        return output, scope.updates()

    return pure


def minimise(
    loss_fn: Callable[[], tuple], network: keras.Model, optimizer: keras.optimizers.Optimizer
):
    """One optimizer step on `network`'s trainable weights; returns `loss_fn`'s extras.

    Args:
        loss_fn: runs the networks and returns `(loss, extras)`; `loss` is
            the mean over the global batch (XLA splits it over devices).
        network: whose trainable weights move.
        optimizer: the optimizer that moves them. A `LossScaleOptimizer`
            (float16) scales the loss here and unscales the gradients in
            `apply`, skipping a step whose gradients are not finite.
    """
    variables = network.trainable_variables
    values = [_current_values()[id(v)] for v in variables]

    def scaled_loss():
        loss, extras = loss_fn()
        return optimizer.scale_loss(loss), extras

    pure = _functional(scaled_loss, variables)

    def objective(values):
        (scaled, extras), updates = pure(values)
        return scaled, (extras, updates)

    gradients, (extras, updates) = jax.grad(objective, has_aux=True)(values)
    _open_scopes[-1].merge(updates)
    optimizer.apply(gradients, variables)
    return extras


def input_gradients(fn: Callable, inputs, loss_scale=None):
    """d(sum fn(inputs)) / d inputs, kept differentiable (penalties train through it).

    Args:
        fn: maps `inputs` to one float32 value per example.
        inputs: what the gradient is taken with respect to.
        loss_scale: when given, the gradient is taken of the outputs times
            it and divided by it after, so that it survives float16 layers.
    """

    def total(inputs):
        def outputs():
            scores = fn(inputs)
            if loss_scale is not None:
                scores = scores * keras.ops.cast(loss_scale, scores.dtype)
            return jax.numpy.sum(scores)

        output, updates = _functional(outputs, ())(())
        return output, updates

    gradients, updates = jax.grad(total, has_aux=True)(inputs)
    _open_scopes[-1].merge(updates)
    if loss_scale is None:
        return gradients
    return gradients / keras.ops.cast(loss_scale, gradients.dtype)


def weight_gradients(fn: Callable, values: list):
    """d fn(values) / d values, kept differentiable (G's unrolled loss trains through it).

    Called inside `minimise`'s loss, this `jax.grad` is traced by the outer
    one, which then differentiates through it; `fn` may close over the outer
    parameters' traced values (G's fakes). Assignments made inside come back as
    auxiliary output, as in `input_gradients`.

    Args:
        fn: maps `values` (D's weights, as arrays) to a scalar loss.
        values: what the gradient is taken with respect to.
    """

    def total(values):
        return _functional(lambda: fn(values), ())(())

    gradients, updates = jax.grad(total, has_aux=True)(list(values))
    _open_scopes[-1].merge(updates)
    return gradients


def step_results(results: dict) -> dict:
    """A train step's results as Keras' JAX trainer takes them: unchanged."""
    return results


def replica_index() -> int:
    """0: under `keras.distribution` the step is one program over the global batch."""
    return 0


def replicas_in_sync() -> int:
    """1: XLA splits the global batch over the devices; the step sees all of it."""
    return 1


class OptimizerPair:
    """Both optimizers, as the one `optimizer` Keras' JAX trainer carries.

    The trainer threads `model.optimizer.variables` through every step and
    writes them back after each epoch; a GAN has two optimizers and updates
    them in turn, which Keras' `MultiOptimizer` does not fit. This gives
    the trainer both optimizers' variables, in one list.
    """

    built = True

    def __init__(self, *optimizers: keras.optimizers.Optimizer):
        self.optimizers = optimizers

    @property
    def variables(self) -> list[keras.Variable]:
        return [v for optimizer in self.optimizers for v in optimizer.variables]


def attach_optimizers(
    model: keras.Model,
    d_optimizer: keras.optimizers.Optimizer,
    g_optimizer: keras.optimizers.Optimizer,
) -> None:
    """Let Keras' JAX trainer carry both optimizers' state between steps."""
    model.optimizer = OptimizerPair(d_optimizer, g_optimizer)


def run_train_step(model: keras.Model, step: Callable[[Any], dict], state, data):
    """`step(data)` run statelessly on `state`, as Keras' JAX trainer calls a train step.

    Returns:
        `(logs, new_state)`: the step's results, and every variable's value after it.
    """
    groups = (
        model.trainable_variables,
        model.non_trainable_variables,
        model.optimizer.variables,
        model.metrics_variables,
    )
    values = {
        id(variable): value
        for variables, group_values in zip(groups, state, strict=True)
        for variable, value in zip(variables, group_values, strict=True)
    }
    with _scope(values) as scope:
        logs = step(data)
    new_state = tuple([scope.state_mapping[id(v)] for v in variables] for variables in groups)
    return logs, new_state


# --- the runtime: seeding, devices, XLA, the data stream ------------------------


def avoid_failing_graph_rewrites(model: keras.Model) -> None:
    """Nothing to do: the failing rewrite is TensorFlow's (grappler's remapper)."""


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and Keras' global seed, without loading TensorFlow.

    `keras.utils.set_random_seed` also seeds TensorFlow when it can import
    it, and importing it takes seconds and most of a GB; a JAX process must
    not. So TensorFlow is marked unimportable while it runs (Keras then
    remembers it as unavailable). XLA on the CPU is deterministic as it is.

    Args:
        seed: the run's seed.
        deterministic: unused on JAX (kept for the one signature).
    """
    if "tensorflow" in sys.modules:
        keras.utils.set_random_seed(seed)
        return
    sys.modules["tensorflow"] = None  # type: ignore[assignment]
    try:
        keras.utils.set_random_seed(seed)
    finally:
        del sys.modules["tensorflow"]


@dataclass(frozen=True)
class Placement:
    """Where a JAX training runs: one device, or a batch split over several.

    Attributes:
        distribution: Keras' `DataParallel` over the devices, set for the
            whole process; None on one device.
    """

    distribution: Any = None

    @property
    def num_replicas_in_sync(self) -> int:
        if self.distribution is None:
            return 1
        return int(self.distribution.device_mesh.devices.size)

    def scope(self) -> AbstractContextManager:
        return nullcontext() if self.distribution is None else self.distribution.scope()


def select_placement(name: str) -> Placement:
    """The placement `train.strategy` names, on JAX.

    `auto` splits each batch over every GPU when there are several and
    otherwise uses one device; `mirrored` splits it over every device JAX
    sees (on a CPU, `XLA_FLAGS=--xla_force_host_platform_device_count=N`
    makes N). `multi_worker` is TensorFlow's (TF_CONFIG).
    """
    if name == "multi_worker":
        raise PipelineError(
            "train.strategy: multi_worker runs on the tensorflow backend only (its cluster "
            "comes from TF_CONFIG); on jax use auto, default or mirrored"
        )
    devices = jax.devices()
    several = len(devices) > 1
    if (
        name == "mirrored"
        and several
        or (name == "auto" and several and devices[0].platform == "gpu")
    ):
        distribution = keras.distribution.DataParallel(devices=devices)
        keras.distribution.set_distribution(distribution)
        return Placement(distribution)
    keras.distribution.set_distribution(None)
    return Placement()


def uses_xla(setting: str | bool, placement: Placement) -> bool:
    """Whether the step is compiled by XLA: always, unless `train.jit_compile` is false.

    On JAX, `auto` means XLA, which is how JAX runs a step; false runs the
    step op by op (for debugging: slow).
    """
    return setting == "auto" or bool(setting)


def deterministic_ops(xla: bool) -> bool:
    """Whether the kernels are deterministic: XLA's CPU kernels are; on a GPU only when asked.

    `XLA_FLAGS=--xla_gpu_deterministic_ops=true` makes XLA's GPU kernels
    deterministic, at some cost in speed.
    """
    on_cpu = all(device.platform == "cpu" for device in jax.devices())
    return on_cpu or "--xla_gpu_deterministic_ops=true" in os.environ.get("XLA_FLAGS", "")


def placement_name(placement: Placement) -> str:
    """The `train.strategy` value that names `placement`, `auto` resolved."""
    return "default" if placement.distribution is None else "mirrored"


def gpu_names() -> list[str]:
    """The model name of each GPU JAX sees (empty without one)."""
    return [device.device_kind for device in jax.devices() if device.platform == "gpu"]


def device_names() -> list[str]:
    """Every device JAX sees (`TFRT_CPU_0`, `cuda:0`...)."""
    return [str(device) for device in jax.devices()]


def endless(batch: tuple) -> Iterator[tuple]:
    """One batch, `(x,)` or `(x, y)`, repeated forever, as `fit` takes it (for benchmarks)."""
    while True:
        yield batch


def check_workers_agree(placement: Placement, epoch: int) -> None:
    """Nothing to check: a JAX training is one process."""


def training_batches(stream: BatchStream) -> Iterator:
    """The seeded batch stream training fits on (`pipeline.data.stream`), as a generator."""
    return iter(stream)
