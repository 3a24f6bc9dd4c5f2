"""Presets: the GAN variants of the literature, each a set of parts with its paper's settings.

A model section names one as `family:` and may override any part of it:
`{family: sngan, loss: {name: least_squares}}` keeps SNGAN's spectral norm
and optimizers with another loss. A preset holds only what its paper sets;
every other value is the part's own default (in the part's file), so each
default lives in one place. docs/params.md lists the presets; a test checks
that it lists each one with these settings.

To add one: an entry in `PRESETS` below, and a row in docs/params.md.
"""

from __future__ import annotations

from typing import Any

# What every preset starts from: which part fills each slot when nothing else says.
BASE: dict[str, Any] = {
    "loss": {"name": "non_saturating"},
    "conditioning": {"kind": "none"},
    "network": {"kind": "mlp"},
    "train": {"d_optimizer": {"name": "adam"}, "g_optimizer": {"name": "adam"}},
}

# Adam as in the SNGAN and WGAN-GP papers: no momentum, a short second-moment memory.
_ADAM_0_09 = {"name": "adam", "beta_1": 0.0, "beta_2": 0.9}


def _optimizers(optimizer: dict[str, Any]) -> dict[str, Any]:
    """The same optimizer settings for D and G."""
    return {"d_optimizer": optimizer, "g_optimizer": optimizer}


PRESETS: dict[str, dict[str, Any]] = {
    # Goodfellow et al. 2014, with the paper's non-saturating generator loss.
    "gan": {},
    # Mirza & Osindero 2014: the label joined to G's and D's inputs.
    "cgan": {"conditioning": {"kind": "concat"}},
    # Radford et al. 2015: convolutional networks with BatchNorm.
    "dcgan": {"network": {"kind": "dcgan"}},
    # Arjovsky et al. 2017: a critic, weights clipped to [-0.01, 0.01], n_critic 5, RMSprop 5e-5.
    "wgan": {
        "loss": {"name": "wasserstein"},
        "regularisers": {"weight_clipping": {"clip_value": 0.01}},
        "train": {"d_steps": 5, **_optimizers({"name": "rmsprop", "learning_rate": 5e-5})},
    },
    # Gulrajani et al. 2017: the gradient penalty (λ 10), n_critic 5, Adam(1e-4, 0, 0.9).
    "wgan_gp": {
        "loss": {"name": "wasserstein"},
        "regularisers": {"gradient_penalty": {"weight": 10.0}},
        "train": {"d_steps": 5, **_optimizers({**_ADAM_0_09, "learning_rate": 1e-4})},
    },
    # Mao et al. 2017: least squares with targets a = 0, b = c = 1.
    "lsgan": {"loss": {"name": "least_squares"}},
    # Miyato et al. 2018: hinge loss, spectral norm on D, n_dis 5, Adam(2e-4, 0, 0.9).
    "sngan": {
        "loss": {"name": "hinge"},
        "regularisers": {"spectral_norm": {}},
        "train": {"d_steps": 5, **_optimizers({**_ADAM_0_09, "learning_rate": 2e-4})},
    },
    # Odena et al. 2017: D also classifies real and fake images; G's label joined to z.
    "acgan": {"conditioning": {"kind": "acgan"}},
    # Metz et al. 2017: G's loss through k = 5 unrolled updates of D's Adam (the 2-D mixture
    # experiment, whose released code also sets Adam 1e-4, beta_1 0.5, for both networks).
    "unrolled": {
        "unrolling": {"steps": 5},
        "train": _optimizers({"name": "adam", "learning_rate": 1e-4}),
    },
    # Chen et al. 2016: unsupervised; a 10-way categorical and 2 uniform codes beside
    # 62 noise dims (z = 62 + 2), recovered by a Q head on D; MI weight 1 for both;
    # convolutional networks with BatchNorm; Adam 2e-4 for D and 1e-3 for G (its appendix).
    "infogan": {
        "conditioning": {"kind": "info", "categorical": 10, "continuous": 2, "weight": 1.0},
        "network": {"kind": "dcgan", "latent_dim": 64},
        "train": {"g_optimizer": {"learning_rate": 1e-3}},
    },
    # Miyato & Koyama 2018: SNGAN with a projection discriminator.
    "projection": {
        "loss": {"name": "hinge"},
        "conditioning": {"kind": "projection"},
        "regularisers": {"spectral_norm": {}},
        "train": {"d_steps": 5, **_optimizers({**_ADAM_0_09, "learning_rate": 2e-4})},
    },
    # Karras et al. 2018: networks grown from the start square (7, 14, 28 on MNIST) with
    # pixel norm, minibatch std and equalised learning rate; WGAN-GP (λ 10) with the drift
    # term ε 0.001, n_critic 1, Adam(1e-3, 0, 0.99); G's weights averaged with decay 0.999.
    "progan": {
        "loss": {"name": "wasserstein"},
        "network": {"kind": "progan"},
        "regularisers": {
            "gradient_penalty": {"weight": 10.0},
            "drift": {"weight": 0.001},
            "ema": {"momentum": 0.999},
        },
        "train": _optimizers(
            {"name": "adam", "learning_rate": 1e-3, "beta_1": 0.0, "beta_2": 0.99}
        ),
    },
    # Karras et al. 2020 (StyleGAN2), small: mapping network (lr x 0.01), modulated and
    # demodulated convolutions, noise inputs, style mixing 0.9; the non-saturating loss
    # with R1 (gamma 0.01, StyleGAN2-ADA's CIFAR-10 setting), Adam(2e-3, 0, 0.99) for
    # both, G's weights averaged (decay 0.999).
    "stylegan": {
        "network": {"kind": "stylegan"},
        "regularisers": {"r1": {"gamma": 0.01}, "ema": {"momentum": 0.999}},
        "train": _optimizers(
            {"name": "adam", "learning_rate": 2e-3, "beta_1": 0.0, "beta_2": 0.99}
        ),
    },
}

# The key that tells the variants of a slot apart (`loss: {name: hinge}`).
TAGS = ("name", "kind")


def with_preset(family: str, section: dict[str, Any]) -> dict[str, Any]:
    """`section` over its preset over `BASE`: what the schema validates.

    Mappings merge key by key, except that a mapping naming another variant
    of a slot (another loss `name`, network `kind`, ...) replaces the
    preset's: its keys would not apply to the new variant.
    """
    return merge(merge(BASE, PRESETS[family]), section)


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` over `base`, recursively; see `with_preset`."""
    merged = dict(base)
    for key, value in override.items():
        below = base.get(key)
        if isinstance(value, dict) and isinstance(below, dict) and not _other_variant(below, value):
            merged[key] = merge(below, value)
        else:
            merged[key] = value
    return merged


def _other_variant(base: dict[str, Any], override: dict[str, Any]) -> bool:
    return any(tag in base and tag in override and base[tag] != override[tag] for tag in TAGS)
