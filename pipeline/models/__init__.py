"""The adversarial model and its parts, and the one place that maps a params section to them."""

from __future__ import annotations

import keras

from pipeline.models.adversarial import AdversarialModel
from pipeline.models.losses import LOSSES, AdversarialLoss
from pipeline.models.regularisers import L2, GradientPenalty, Regulariser, WeightClipping
from pipeline.params import ModelParams

__all__ = ["LOSSES", "AdversarialLoss", "AdversarialModel", "Regulariser", "make_model"]


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
        loss=adversarial_loss(params),
        regularisers=regularisers(params),
        latent_dim=params.network.latent_dim,
        num_classes=num_classes,
        d_steps=params.train.d_steps,
        seed=seed,
        instance_noise=params.train.instance_noise > 0,
    )


def adversarial_loss(params: ModelParams) -> AdversarialLoss:
    """The loss pair of the model's family (and, for the GANs, its `loss` choice)."""
    if params.family in ("wgan", "wgan_gp"):
        return LOSSES["wasserstein"]()
    return LOSSES[params.loss](label_smoothing=params.train.label_smoothing)


def regularisers(params: ModelParams) -> list[Regulariser]:
    """The family's Lipschitz part (clipping or the gradient penalty), then L2 if asked."""
    parts: list[Regulariser] = []
    if params.family == "wgan":
        parts.append(WeightClipping(params.clip_value))
    if params.family == "wgan_gp":
        parts.append(GradientPenalty(params.gradient_penalty))
    if params.train.l2_penalty:
        parts.append(L2(params.train.l2_penalty))
    return parts
