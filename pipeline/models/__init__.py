"""The model families, and the one place that maps a params section to a model."""

from __future__ import annotations

import keras

from pipeline.models.base import AdversarialModel
from pipeline.models.gan import GAN
from pipeline.models.wgan import WGAN, WGANGP
from pipeline.params import ModelParams

__all__ = ["GAN", "WGAN", "WGANGP", "AdversarialModel", "make_model"]


def make_model(
    params: ModelParams,
    generator: keras.Model,
    discriminator: keras.Model,
    num_classes: int,
    seed: int,
) -> AdversarialModel:
    """The family `params.family` names, around the given networks.

    Args:
        params: the model's params section.
        generator: the generator network.
        discriminator: the discriminator or critic network.
        num_classes: 0 for an unconditional model, else the number of classes.
        seed: seeds the noise inside `train_step`.
    """
    common = {
        "latent_dim": params.network.latent_dim,
        "d_steps": params.train.d_steps,
        "seed": seed,
        "num_classes": num_classes,
        "l2_penalty": params.train.l2_penalty,
        "instance_noise": params.train.instance_noise > 0,
    }
    if params.family in ("gan", "cgan"):
        return GAN(
            generator,
            discriminator,
            loss=params.loss,
            label_smoothing=params.train.label_smoothing,
            **common,
        )
    if params.family == "wgan":
        return WGAN(generator, discriminator, clip_value=params.clip_value, **common)
    if params.family == "wgan_gp":
        return WGANGP(generator, discriminator, gradient_penalty=params.gradient_penalty, **common)
    raise ValueError(f"unknown family {params.family!r}")
