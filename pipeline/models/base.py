"""What every adversarial model shares: two networks, k critic steps, an optional label."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


class AdversarialModel(keras.Model):
    """A generator and a discriminator (or critic) trained in alternation.

    Each `train_step` takes a batch of `d_steps * batch_size` real images
    and makes `d_steps` discriminator updates, each on its own slice of that
    batch and fresh noise, then one generator update through the updated
    discriminator (Algorithm 1 of Goodfellow et al. 2014; n_critic in the
    WGAN papers). An epoch therefore shows every real image to D once.

    With `num_classes > 0` the model is conditional: batches are
    `(images, labels)`, and both networks take the label as a second input.
    The generator step reuses the labels of the first real slice, so the
    conditioning labels follow the data's class mix.

    Subclasses define the losses (`discriminator_loss`, `generator_loss`)
    and may add a penalty (`discriminator_penalty`), a step after each
    discriminator update (`after_discriminator_update`) and metrics.

    Args:
        generator: maps z (and a label) to images.
        discriminator: maps images (and a label) to one score each.
        latent_dim: size of z.
        num_classes: 0 for an unconditional model, else the number of classes.
        d_steps: discriminator updates per generator update.
        seed: seed of the noise drawn inside `train_step`.
        l2_penalty: weight of the sum of squared kernel weights added to
            each network's loss.
        instance_noise: whether D's inputs get Gaussian noise of std
            `instance_noise_std` (set by `InstanceNoiseSchedule`).
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        num_classes: int = 0,
        d_steps: int = 1,
        seed: int | None = None,
        l2_penalty: float = 0.0,
        instance_noise: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.l2_penalty = l2_penalty
        self.instance_noise = instance_noise
        self.instance_noise_std = keras.Variable(
            0.0, trainable=False, name="instance_noise_std", dtype="float32"
        )
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.d_steps = d_steps
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        # Both networks arrive built. Without this, `fit` under a distribution
        # strategy builds the model by calling it on a data batch: images,
        # where `call` expects z.
        self.built = True

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def compile(
        self,
        d_optimizer: keras.optimizers.Optimizer,
        g_optimizer: keras.optimizers.Optimizer,
        **kwargs,
    ) -> None:
        """Configure the two optimizers.

        Args:
            d_optimizer: updates the discriminator.
            g_optimizer: updates the generator.
        """
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    def build_optimizers(self) -> None:
        """Create the optimizers' slot variables now, not inside the first step.

        Under a tf.distribute strategy, slots first created inside the traced
        `train_step` fail (keras-team/keras#20164); building them here, inside
        the strategy's scope, avoids that. It also lets a checkpoint restore
        optimizer state before training starts.
        """
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.d_loss_tracker, self.g_loss_tracker]

    def call(self, inputs, training: bool = False):
        return self.generator(inputs, training=training)

    # --- what a family defines ----------------------------------------------

    def discriminator_loss(self, real_scores, fake_scores):
        """Per-example loss of the discriminator."""
        raise NotImplementedError

    def generator_loss(self, fake_scores):
        """Per-example loss of the generator."""
        raise NotImplementedError

    def discriminator_penalty(self, real_images, fake_images, labels):
        """A scalar added to the discriminator's loss (none by default)."""
        return 0.0

    def after_discriminator_update(self) -> None:
        """Runs after every discriminator update (WGAN clips weights here)."""

    def update_discriminator_metrics(self, real_scores, fake_scores, penalty) -> None:
        """Track family-specific numbers of a discriminator step."""

    # --- the step -------------------------------------------------------------

    def sample_latents(self, batch_size):
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def generator_inputs(self, z, labels):
        return [z, labels] if self.conditional else z

    def discriminator_inputs(self, images, labels):
        return [images, labels] if self.conditional else images

    def noisy(self, images):
        """Images with instance noise added (Sonderby et al. 2016), when it is on."""
        if not self.instance_noise:
            return images
        noise = keras.random.normal(ops.shape(images), seed=self.seed_generator)
        return images + self.instance_noise_std * noise

    def weight_penalty(self, network: keras.Model):
        """`l2_penalty` times the sum of the network's squared kernel weights."""
        if not self.l2_penalty:
            return 0.0
        kernels = [w for w in network.trainable_variables if len(w.shape) > 1]
        return self.l2_penalty * ops.sum(ops.stack([ops.sum(ops.square(w)) for w in kernels]))

    def train_step(self, data):
        real_images, labels = self._unpack(data)
        batch_size = ops.shape(real_images)[0] // self.d_steps
        for step in range(self.d_steps):
            part = slice(step * batch_size, (step + 1) * batch_size)
            step_labels = None if labels is None else labels[part]
            self._discriminator_step(real_images[part], step_labels)
        self._generator_step(batch_size, None if labels is None else labels[:batch_size])
        return {m.name: m.result() for m in self.metrics}

    def _unpack(self, data):
        if isinstance(data, tuple | list):
            images, labels = data[0], data[1] if len(data) > 1 else None
        else:
            images, labels = data, None
        if not self.conditional:
            return images, None
        if labels is None:
            raise ValueError("a conditional model trains on (images, labels) batches")
        return images, ops.cast(labels, "int32")

    def _discriminator_step(self, real_images, labels) -> None:
        z = self.sample_latents(ops.shape(real_images)[0])
        fake_images = self.generator(self.generator_inputs(z, labels), training=True)
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            real_scores = self.discriminator(
                self.discriminator_inputs(self.noisy(real_images), labels), training=True
            )
            fake_scores = self.discriminator(
                self.discriminator_inputs(self.noisy(fake_images), labels), training=True
            )
            loss = ops.mean(self.discriminator_loss(real_scores, fake_scores))
            penalty = self.discriminator_penalty(real_images, fake_images, labels)
            regulariser = self.weight_penalty(self.discriminator)
            scaled_loss = scale_for_replicas(loss + penalty + regulariser)
        self.d_optimizer.apply(tape.gradient(scaled_loss, variables), variables)
        self.after_discriminator_update()
        self.d_loss_tracker.update_state(loss + penalty)
        self.update_discriminator_metrics(real_scores, fake_scores, penalty)

    def _generator_step(self, batch_size, labels) -> None:
        z = self.sample_latents(batch_size)
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            fake_images = self.generator(self.generator_inputs(z, labels), training=True)
            fake_scores = self.discriminator(
                self.discriminator_inputs(self.noisy(fake_images), labels), training=True
            )
            loss = ops.mean(self.generator_loss(fake_scores))
            scaled_loss = scale_for_replicas(loss + self.weight_penalty(self.generator))
        self.g_optimizer.apply(tape.gradient(scaled_loss, variables), variables)
        self.g_loss_tracker.update_state(loss)


def scale_for_replicas(replica_mean_loss):
    """Scale a replica's mean loss: summed over replicas, the gradients average the global batch."""
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context is not None else 1
    return replica_mean_loss / replicas
