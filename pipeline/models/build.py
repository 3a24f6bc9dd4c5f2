"""The one place that turns a model's params section into networks and a model."""

from __future__ import annotations

from functools import reduce

import keras

# The parts' code runs here, through the objects the schema made of params.yaml
# (`params.network.build`, `params.loss`...): importing their packages says so,
# and makes them dependencies of every stage that builds a model
# (tests/test_dependencies.py reads the imports).
from pipeline.models import conditioning, losses, networks, regularisers  # noqa: F401
from pipeline.models.adversarial import AdversarialModel
from pipeline.params import ModelParams


def build_networks(
    params: ModelParams, image_shape: tuple[int, int, int], num_classes: int = 0
) -> tuple[keras.Model, keras.Model]:
    """The (generator, discriminator) pair of `params.network`, carrying its conditioning.

    Each regulariser may wrap D's weight layers (spectral norm); they wrap in
    registry order, the first innermost.
    """
    parts = params.regularisers.parts()

    def wrap(layer: keras.layers.Layer) -> keras.layers.Layer:
        return reduce(lambda wrapped, part: part.wrap_discriminator_layer(wrapped), parts, layer)

    return params.network.build(tuple(image_shape), params.conditioning, num_classes, wrap)


def make_model(
    params: ModelParams,
    generator: keras.Model,
    discriminator: keras.Model,
    num_classes: int,
    seed: int,
) -> AdversarialModel:
    """The model `params` describes, around the given networks.

    Args:
        params: the model's params section.
        generator: the generator network.
        discriminator: the discriminator or critic network.
        num_classes: 0 for an unconditional model, else the number of classes.
        seed: seeds the noise inside `train_step`.
    """
    return AdversarialModel(
        generator=generator,
        discriminator=discriminator,
        loss=params.loss,
        regularisers=params.regularisers.parts(),
        conditioning=params.conditioning,
        latent_dim=params.network.latent_dim,
        num_classes=num_classes,
        d_steps=params.train.d_steps,
        seed=seed,
        loss_scaling=params.train.scales_losses,
        unrolling=params.unrolling,
        schedule=params.network.schedule(generator, discriminator),
        training_call=params.network.training_call(generator),
    )


def generator_optimizer_options(params: ModelParams) -> dict:
    """What the regularisers ask of G's optimizer (an EMA of its weights), merged."""
    options: dict = {}
    for part in params.regularisers.parts():
        options.update(part.generator_optimizer_options())
    return options


def training_callbacks(params: ModelParams) -> list[keras.callbacks.Callback]:
    """The callbacks the regularisers need during `fit` (instance noise's schedule);
    none for a model without regularisers (a translation model)."""
    if not isinstance(params, ModelParams):
        return []
    return [
        callback
        for part in params.regularisers.parts()
        for callback in part.callbacks(params.train.epochs)
    ]
