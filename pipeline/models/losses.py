"""Adversarial losses on discriminator logits.

Each returns per-example losses; the caller reduces them, so that the same
functions serve one device or several (see `GAN.train_step`).
"""

from __future__ import annotations

from keras import ops


def discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """-log D(x) - log(1 - D(G(z))): binary cross-entropy, real = 1, fake = 0.

    With one-sided label smoothing s (Salimans et al. 2016), the real target
    is 1 - s; fakes keep target 0, so D is not taught to favour them.
    """
    real_loss = ops.softplus(-real_logits)
    if label_smoothing:
        real_loss = (1.0 - label_smoothing) * real_loss + label_smoothing * ops.softplus(
            real_logits
        )
    return real_loss + ops.softplus(fake_logits)


def minimax_generator_loss(fake_logits):
    """log(1 - D(G(z))), the loss of the minimax game (Goodfellow et al. 2014, eq. 1)."""
    return -ops.softplus(fake_logits)


def non_saturating_generator_loss(fake_logits):
    """-log D(G(z)): same fixed point, stronger gradients while D wins early on."""
    return ops.softplus(-fake_logits)


GENERATOR_LOSSES = {
    "minimax": minimax_generator_loss,
    "non_saturating": non_saturating_generator_loss,
}


def critic_loss(real_scores, fake_scores):
    """D(G(z)) - D(x): the critic's loss, whose negated mean estimates W1 (Arjovsky et al. 2017)."""
    return fake_scores - real_scores


def wasserstein_generator_loss(fake_scores):
    """-D(G(z)): the generator raises the critic's score of its samples."""
    return -fake_scores
