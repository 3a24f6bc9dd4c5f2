"""What a regulariser is: hooks into the discriminator step, each a no-op by default."""

from __future__ import annotations

from collections.abc import Callable

import keras

Critic = Callable  # images -> D's scores, with the batch's labels already bound


class Regulariser:
    """A penalty, a constraint or both, on the discriminator (and, for some, the generator).

    Class attributes:
        tracked_as: the name under which the model tracks this part's
            discriminator penalty each step (in history.csv and MLflow);
            None keeps it out of the logs.
    """

    tracked_as: str | None = None

    def discriminator_penalty(
        self, critic: Critic, real_images, fake_images, seed: keras.random.SeedGenerator
    ):
        """A scalar added to D's loss, or None.

        Args:
            critic: D on a batch of images, labels bound (so a penalty never
                needs to know about conditioning).
            real_images: this step's real slice (before instance noise).
            fake_images: this step's generated images.
            seed: the model's seed generator, for any noise the penalty draws.
        """
        return None

    def network_penalty(self, network: keras.Model):
        """A scalar added to the loss of `network` (either one), or None."""
        return None

    def after_discriminator_update(self, discriminator: keras.Model) -> None:
        """Runs after every discriminator update (a constraint on its weights)."""
