"""Presets of the image-to-image models, each its paper's settings.

Like the noise-to-image presets (`pipeline.models.presets`): a model section
names one as `family:` and may override any part of it; a preset holds only
what its paper sets, every other value is the part's own default.
docs/params.md lists them.
"""

from __future__ import annotations

from typing import Any

from pipeline.models.presets import merge

# What every paired translation starts from.
PAIRED_BASE: dict[str, Any] = {
    "loss": {"name": "non_saturating"},
    "reconstruction": {"kind": "l1"},
    "train": {"d_optimizer": {"name": "adam"}, "g_optimizer": {"name": "adam"}},
}

PAIRED_PRESETS: dict[str, dict[str, Any]] = {
    # Isola et al. 2017: a U-Net G, a PatchGAN D on (input, output) pairs, the
    # non-saturating loss plus L1 weighted 100, Adam(2e-4, 0.5) (the optimizers'
    # own defaults). The experiment: edge maps to digits.
    "pix2pix": {
        "task": {"input": "edges", "target": "A"},
        "generator": {"kind": "unet"},
        "discriminator": {"kind": "patchgan"},
        "reconstruction": {"kind": "l1", "weight": 100.0},
        "discriminator_sees_input": True,
    },
    # Ledig et al. 2017: SRResNet G (16 residual blocks, sub-pixel upsampling), the
    # VGG-style D on images alone, the content loss (here the domain evaluator's
    # features beside the pixels' MSE) plus 1e-3 adversarial, Adam(1e-4, 0.9).
    # The experiment: 14x14 to 28x28, beside bicubic upsampling.
    "srgan": {
        "task": {"input": "low_res", "target": "A"},
        "generator": {"kind": "srresnet"},
        "discriminator": {"kind": "srgan"},
        "discriminator_sees_input": False,
        "reconstruction": {"kind": "features"},
        "adversarial_weight": 1e-3,
        "baseline": "bicubic",
        "train": {
            "d_optimizer": {"name": "adam", "learning_rate": 1e-4, "beta_1": 0.9},
            "g_optimizer": {"name": "adam", "learning_rate": 1e-4, "beta_1": 0.9},
        },
    },
    # Pathak et al. 2016: an encoder-decoder with a channel-wise fully connected
    # bottleneck, D on the completed image, L2 on the hole weighted 0.999 beside
    # 0.001 adversarial. The experiment: a centred hole, beside the mean fill.
    "context_encoder": {
        "task": {"input": "masked", "target": "A"},
        "generator": {"kind": "unet", "skip_connections": False, "channel_wise_fc": True},
        "discriminator": {"kind": "patchgan"},
        "discriminator_sees_input": False,
        "reconstruction": {"kind": "l2", "region": "hole", "weight": 0.999},
        "adversarial_weight": 1e-3,
        "baseline": "mean_fill",
    },
}


def with_paired_preset(family: str, section: dict[str, Any]) -> dict[str, Any]:
    """`section` over its preset over `PAIRED_BASE`: what the schema validates."""
    return merge(merge(PAIRED_BASE, PAIRED_PRESETS[family]), section)


# What every unpaired translation starts from: the paper's networks, loss and optimizers.
UNPAIRED_BASE: dict[str, Any] = {
    "generator": {"kind": "resnet"},
    "discriminator": {"kind": "patchgan", "norm": "instance"},
    "loss": {"name": "least_squares"},
    "train": {"d_optimizer": {"name": "adam"}, "g_optimizer": {"name": "adam"}},
}

UNPAIRED_PRESETS: dict[str, dict[str, Any]] = {
    # Zhu et al. 2017: two ResNet generators, two 70x70 PatchGANs with instance norm,
    # LSGAN's loss, cycle consistency weighted 10, identity 0.5 of that, a history of
    # 50 generated images per discriminator, Adam(2e-4, 0.5) (the optimizers' own
    # defaults). The experiment: digits to their negatives, never shown a pair.
    "cyclegan": {
        "task": {"input": "A", "target": "negative"},
        "cycle_weight": 10.0,
        "identity_weight": 0.5,
        "pool_size": 50,
    },
}


def with_unpaired_preset(family: str, section: dict[str, Any]) -> dict[str, Any]:
    """`section` over its preset over `UNPAIRED_BASE`: what the schema validates."""
    return merge(merge(UNPAIRED_BASE, UNPAIRED_PRESETS[family]), section)
