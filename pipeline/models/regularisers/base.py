"""What a regulariser is: hooks into the networks and the train step, each a no-op by default.

A regulariser is also its own settings: a `Section` of the params schema,
keyed by its name under a model's `regularisers` (`regularisers: {r1: {gamma: 1}}`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pipeline.schema import Section

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class Critic:
    """D's scores on a batch of images, with the batch's labels already bound.

    What the penalties differentiate: they take its gradient through
    `input_gradients`, which under float16 loss scaling (`train.precision:
    mixed_float16`) differentiates the scores times the loss scale and
    divides it out again, so that small gradients inside D's 16-bit layers
    do not round to zero.

    Attributes:
        scores: images -> one score per image.
        loss_scale: D's optimizer's current loss scale; None without scaling.
    """

    scores: Callable
    loss_scale: Any = None

    def __call__(self, images):
        return self.scores(images)

    def input_gradients(self, images):
        """d(sum of the scores) / d images, kept differentiable (penalties train through it)."""
        from pipeline.backend import input_gradients

        return input_gradients(self.scores, images, self.loss_scale)


class Regulariser(Section):
    """A penalty, a constraint, an input transform or a change to a network or optimizer.

    Each hook does nothing unless a part overrides it, so a part fills in
    only what it needs, and any set of parts combines.

    Class attributes:
        tracked_as: the name under which the model tracks this part's
            discriminator penalty each step (in history.csv and MLflow);
            None keeps it out of the logs.
        needs_per_example_critic: the penalty differentiates D example by
            example, so D must not mix a batch (no BatchNorm); the schema
            refuses such a discriminator.
    """

    tracked_as: ClassVar[str | None] = None
    needs_per_example_critic: ClassVar[bool] = False

    # --- while the networks are built --------------------------------------

    def wrap_discriminator_layer(self, layer: keras.layers.Layer) -> keras.layers.Layer:
        """The layer D uses in place of `layer`, one of its weight layers (spectral norm)."""
        return layer

    def generator_optimizer_options(self) -> dict[str, Any]:
        """Keyword arguments for G's optimizer (an EMA of its weights)."""
        return {}

    # --- in the train step ---------------------------------------------------

    def discriminator_inputs(self, images, model: keras.Model):
        """What D sees of `images` (real or fake, in either step) in training: augmented, noisy.

        Args:
            images: a batch of real or generated images.
            model: the adversarial model (its seed generator, its schedules).
        """
        return images

    def discriminator_penalty(
        self, critic: Critic, real_images, fake_images, seed: keras.random.SeedGenerator
    ):
        """A scalar added to D's loss, or None.

        Args:
            critic: D on a batch of images, labels bound (so a penalty never
                needs to know about conditioning).
            real_images: this step's real slice (as the data gives it).
            fake_images: this step's generated images.
            seed: the model's seed generator, for any noise the penalty draws.
        """
        return None

    def network_penalty(self, network: keras.Model):
        """A scalar added to the loss of `network` (either one), or None."""
        return None

    def after_discriminator_update(self, discriminator: keras.Model) -> None:
        """Runs after every discriminator update (a constraint on its weights)."""

    # --- around training -----------------------------------------------------

    def callbacks(self, epochs: int) -> list[keras.callbacks.Callback]:
        """Keras callbacks the part needs during `fit` (a schedule), given the epoch count."""
        return []
