"""A compiled model from its params section: networks, precision, optimizers, placement."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import keras

from pipeline import backend
from pipeline.models.build import (
    build_networks,
    generator_optimizer_options,
    make_model,
)
from pipeline.models.coupled import build_coupled
from pipeline.models.coupled_settings import CoupledParams
from pipeline.models.regularisers.ema import ema_optimizer_class
from pipeline.models.translation.build import build_paired_translation, build_unpaired_translation
from pipeline.models.translation.reconstruction import NO_CONTEXT, TermContext
from pipeline.models.translation.settings import PairedTranslationParams
from pipeline.models.translation.unpaired_settings import UnpairedTranslationParams
from pipeline.models.two_networks import TwoNetworkModel
from pipeline.params import ModelParams, ModelSection
from pipeline.train_settings import OptimizerParams


@contextmanager
def precision_policy(precision: str) -> Iterator[None]:
    """Layers made inside compute in `precision`'s dtype (`train.precision`), variables float32."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def make_optimizer(
    params: OptimizerParams, loss_scaling: bool = False, **options: Any
) -> keras.optimizers.Optimizer:
    """An optimizer from its params section.

    Args:
        params: the optimizer's params section.
        loss_scaling: wrap it in Keras' `LossScaleOptimizer` (float16): the
            loss is scaled up before the gradients are taken, they are scaled
            back down, and a step whose gradients are not finite is skipped
            and the scale halved.
        **options: more Keras optimizer arguments (`use_ema` and
            `ema_momentum`, for an average of the weights it updates).
    """
    name = {"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD"}[params.name]
    # A weight average (the `ema` regulariser) warms its decay up.
    use_ema = options.get("use_ema")
    optimizer_class = ema_optimizer_class(name) if use_ema else getattr(keras.optimizers, name)
    if params.name == "adam":
        optimizer = optimizer_class(
            params.learning_rate, beta_1=params.beta_1, beta_2=params.beta_2, **options
        )
    else:
        optimizer = optimizer_class(params.learning_rate, momentum=params.momentum, **options)
    return keras.optimizers.LossScaleOptimizer(optimizer) if loss_scaling else optimizer


def inner_optimizer(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """The optimizer that moves the weights: the one a `LossScaleOptimizer` wraps, if any."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def build_model(
    params: ModelSection,
    image_shape: tuple[int, int, int],
    seed: int,
    num_classes: int = 0,
    placement: Any = None,
    target_shape: tuple[int, int, int] | None = None,
    context: TermContext = NO_CONTEXT,
) -> TwoNetworkModel:
    """Build and compile a model of `params.family` with its optimizers' variables created.

    Args:
        params: the model's params section.
        image_shape: (height, width, channels) from the dataset's info file:
            of the images a noise-to-image model makes, or of a translation
            model's inputs.
        seed: seeds weight initialisation and the noise inside `train_step`.
        num_classes: 0 for an unconditional model, else the dataset's classes.
        placement: the devices (`backend.select_placement`); by default what
            `train.strategy` names.
        target_shape: a translation model's output images' shape.
        context: what a translation model's reconstruction term needs.
    """
    train = params.train
    placement = placement or backend.select_placement(train.strategy)
    xla = backend.uses_xla(train.jit_compile, placement)
    backend.seed_everything(seed, deterministic=not xla)
    scaled = train.scales_losses
    with placement.scope():
        with precision_policy(train.precision):
            model = _networks_in_model(
                params, image_shape, target_shape, num_classes, seed, context
            )
        g_options = generator_optimizer_options(params) if isinstance(params, ModelParams) else {}
        model.compile(
            d_optimizer=make_optimizer(train.d_optimizer, scaled),
            g_optimizer=make_optimizer(train.g_optimizer, scaled, **g_options),
            jit_compile=xla,
            steps_per_execution=train.steps_per_execution,
        )
        model.build_optimizers()
    backend.avoid_failing_graph_rewrites(model)
    return model


def _networks_in_model(
    params: ModelSection,
    image_shape: tuple[int, int, int],
    target_shape: tuple[int, int, int] | None,
    num_classes: int,
    seed: int,
    context: TermContext,
) -> TwoNetworkModel:
    """The networks `params` names, built for these shapes, inside their model."""
    if isinstance(params, ModelParams):
        generator, discriminator = build_networks(params, image_shape, num_classes)
        return make_model(params, generator, discriminator, num_classes, seed)
    if target_shape is None:
        raise ValueError(f"{params.family}: this model needs its second domain's shape")
    return TWO_DOMAIN_BUILDERS[type(params)](params, image_shape, target_shape, seed, context)


# The models of two domains, by their params class: each built from (params, the
# first domain's shape, the second's, the seed, the reconstruction's context).
TWO_DOMAIN_BUILDERS: dict[type, Callable[..., TwoNetworkModel]] = {
    PairedTranslationParams: lambda params, first, second, seed, context: build_paired_translation(
        params, first, second, context
    ),
    UnpairedTranslationParams: lambda params, first, second, seed, context: (
        build_unpaired_translation(params, first, second, seed)
    ),
    CoupledParams: lambda params, first, second, seed, context: build_coupled(
        params, first, second, seed
    ),
}
