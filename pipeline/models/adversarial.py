"""The one adversarial model: two networks, and a train step composed of parts.

The step's math is `keras.ops`, written once; taking gradients and running the
step as the backend's trainer wants it is `pipeline.backend`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
from keras import ops

from pipeline.backend import minimise, replica_index, replicas_in_sync, step_results
from pipeline.models.conditioning.base import Conditioning
from pipeline.models.conditioning.none import Unconditional
from pipeline.models.losses.base import AdversarialLoss
from pipeline.models.regularisers.base import Critic, Regulariser
from pipeline.models.two_networks import TwoNetworkModel
from pipeline.models.unrolling import Unrolling


class AdversarialModel(TwoNetworkModel):
    """A generator and a discriminator (or critic) trained in alternation.

    Each `train_step` takes a batch of `d_steps * batch_size` real images
    and makes `d_steps` discriminator updates, each on its own slice of that
    batch and fresh noise, then one generator update through the updated
    discriminator (Algorithm 1 of Goodfellow et al. 2014; n_critic in the
    WGAN papers). An epoch therefore shows every real image to D once.

    With `num_classes > 0` the model is conditional: batches are
    `(images, labels)`, and both networks take the label as a second input.
    The generator step reuses the labels of the first real slice, so the
    conditioning labels follow the data's class mix. A conditioning that draws
    codes of its own (InfoGAN) conditions G on those instead, drawn afresh for
    every update (`Conditioning.draw_codes`), and its loss terms read them
    where the label-taking methods read the labels.

    What varies between GAN variants are parts: the adversarial `loss`, the
    `regularisers` and the `conditioning` (the networks arrive built). Each
    declares what it tracks: `d_loss` and `g_loss` always; `d_acc_real` /
    `d_acc_fake` where the loss has a decision threshold; a loss's own
    numbers (`wasserstein`); a conditioning method's (`d_class_acc`); a
    penalty's value.

    Args:
        generator: maps z (and a label) to images.
        discriminator: maps images (and a label) to one raw score each.
        loss: the adversarial loss pair.
        regularisers: penalties, constraints and input transforms, applied
            in this order.
        conditioning: how the label enters the networks and the losses.
        latent_dim: size of z.
        num_classes: 0 for an unconditional model, else the number of classes.
        d_steps: discriminator updates per generator update.
        seed: seed of the noise drawn inside `train_step`.
        loss_scaling: the optimizers scale the losses (float16). A D update
            whose gradients overflow is skipped; `skipped_d_steps` tracks the
            share skipped, and a skipped update's loss (not finite when the
            penalty's nested gradient overflowed) stays out of the means.
        unrolling: G's loss taken through unrolled D steps (Unrolled GAN);
            None for the plain generator step.
        schedule: the networks' own schedule (`Network.schedule`: ProGAN's
            growth), called at the start of every step with the number of
            real images D has seen; None for networks without one.
        training_call: how G runs in training when not as its own call
            (`Network.training_call`: StyleGAN's style mixing and noise);
            None for `generator(inputs, training=True)`.
    """

    def __init__(
        self,
        *,
        generator: keras.Model,
        discriminator: keras.Model,
        loss: AdversarialLoss,
        regularisers: Sequence[Regulariser] = (),
        conditioning: Conditioning | None = None,
        latent_dim: int,
        num_classes: int = 0,
        d_steps: int = 1,
        seed: int | None = None,
        loss_scaling: bool = False,
        unrolling: Unrolling | None = None,
        schedule: Callable[[object], None] | None = None,
        training_call: Callable[[object, object], object] | None = None,
        **kwargs,
    ):
        super().__init__(generator=generator, discriminator=discriminator, **kwargs)
        conditioning = conditioning or Unconditional()
        if conditioning.conditional != (num_classes > 0):
            raise ValueError(
                f"conditioning {conditioning.kind!r} with num_classes={num_classes}: a "
                "conditional model needs classes, an unconditional one none"
            )
        # The std of the `instance_noise` regulariser, set each epoch by its schedule.
        self.instance_noise_std = keras.Variable(
            0.0, trainable=False, name="instance_noise_std", dtype="float32"
        )
        self.adversarial_loss = loss
        self.regularisers = tuple(regularisers)
        self.conditioning = conditioning
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.d_steps = d_steps
        self.loss_scaling = loss_scaling
        self.unrolling = unrolling
        self.schedule = schedule
        self.training_call = training_call
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.make_trackers()

    def tracked_names(self) -> list[str]:
        """What each step reports, in the order of history.csv's columns."""
        names = ["d_loss", "g_loss", *self.adversarial_loss.tracked_names()]
        names += list(self.conditioning.tracked_as)
        names += [part.tracked_as for part in self.regularisers if part.tracked_as]
        if self.loss_scaling:
            names.append("skipped_d_steps")
        return names

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def step(self, data) -> dict:
        """One generator step and its `d_steps` discriminator steps; returns the trackers' means."""
        real_images, labels = self._unpack(data)
        batch_size = ops.shape(real_images)[0] // self.d_steps
        if self.schedule is not None:
            self.schedule(self.images_seen(batch_size))
        for step in range(self.d_steps):
            part = slice(step * batch_size, (step + 1) * batch_size)
            step_labels = None if labels is None else labels[part]
            self._discriminator_step(real_images[part], step_labels)
        first_slice = slice(0, batch_size)
        self._generator_step(
            real_images[first_slice], None if labels is None else labels[first_slice]
        )
        return step_results({name: tracker.result() for name, tracker in self.trackers.items()})

    def images_seen(self, batch_size):
        """Real images D has trained on so far: its updates times the global batch of one.

        From the optimizer's iteration count, which the checkpoint holds (an
        update skipped under loss scaling does not count).
        """
        updates = ops.cast(self.d_optimizer.iterations, "int32")
        return updates * ops.cast(batch_size, "int32") * replicas_in_sync()

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

    def sample_latents(self, batch_size):
        replicas = replicas_in_sync()
        if replicas == 1:
            return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        # The seed generator is mirrored, so every replica would draw the same
        # noise. Each draws the whole global batch's instead (the same draws a
        # single device makes) and keeps its own slice of it.
        noise = keras.random.normal(
            (batch_size * replicas, self.latent_dim), seed=self.seed_generator
        )
        start = replica_index() * batch_size
        return ops.slice(noise, (start, 0), (batch_size, self.latent_dim))

    def generator_inputs(self, batch_size, labels):
        """z and what G is conditioned on for one update: the data's labels, or the
        codes the conditioning draws (InfoGAN), both from the model's seed generator."""
        z = self.sample_latents(batch_size)
        return self.conditioning.draw_codes(z, labels, self.seed_generator)

    def generate(self, z, labels, training: bool = True):
        inputs = self.conditioning.generator_call(z, labels)
        if training and self.training_call is not None:
            return self.training_call(inputs, self.seed_generator)
        return self.generator(inputs, training=training)

    def discriminate(self, images, labels):
        """D's outputs on `images` in training: its score, and what the conditioning adds."""
        return self.discriminator(self._discriminator_inputs(images, labels), training=True)

    def _discriminator_inputs(self, images, labels):
        takes_label = self.conditional and self.conditioning.discriminator_takes_label
        return [images, labels] if takes_label else images

    def critic(self, labels) -> Critic:
        """D's scores on a batch of images with `labels` bound: what the penalties differentiate."""

        def scores(images):
            return self.conditioning.scores(self.discriminate(images, labels))

        return Critic(scores, loss_scale(self.d_optimizer))

    def seen_by_discriminator(self, images):
        """`images` as D sees them in training: each regulariser's transform in turn
        (DiffAugment, instance noise), the same for real and fake images."""
        for part in self.regularisers:
            images = part.discriminator_inputs(images, self)
        return images

    def weight_penalty(self, network: keras.Model):
        """What the regularisers add to `network`'s own loss (L2, say)."""
        return sum_of_present(part.network_penalty(network) for part in self.regularisers)

    def _discriminator_step(self, real_images, labels) -> None:
        z, labels = self.generator_inputs(ops.shape(real_images)[0], labels)
        fake_images = self.generate(z, labels)
        critic = self.critic(labels)
        conditioning = self.conditioning

        def losses():
            real_outputs = self.discriminate(self.seen_by_discriminator(real_images), labels)
            fake_outputs = self.discriminate(self.seen_by_discriminator(fake_images), labels)
            real_scores = conditioning.scores(real_outputs)
            fake_scores = conditioning.scores(fake_outputs)
            loss = ops.mean(self.adversarial_loss.discriminator_loss(real_scores, fake_scores))
            own_term, own_metrics = conditioning.discriminator_terms(
                real_outputs, fake_outputs, labels
            )
            penalties = [
                part.discriminator_penalty(critic, real_images, fake_images, self.seed_generator)
                for part in self.regularisers
            ]
            total = loss + sum_of_present([own_term, *penalties])
            extras = (total, real_scores, fake_scores, penalties, own_metrics)
            return total + self.weight_penalty(self.discriminator), extras

        updates_before = self._discriminator_updates() if self.loss_scaling else None
        total, real_scores, fake_scores, penalties, own_metrics = minimise(
            losses, self.discriminator, self.d_optimizer
        )
        for part in self.regularisers:
            part.after_discriminator_update(self.discriminator)
        track = self._discriminator_tracking(total, updates_before)
        self._track_discriminator(track, total, real_scores, fake_scores, penalties)
        for name, value in own_metrics.items():
            track(name, value)

    def _discriminator_updates(self):
        """D's optimizer's count of applied updates, read now (a skipped one does not count)."""
        return ops.convert_to_tensor(self.d_optimizer.iterations)

    def _discriminator_tracking(self, total, updates_before):
        """How this D update's numbers reach the trackers: as they are, or, under loss
        scaling, left out when the loss is not finite (the step was skipped)."""
        if not self.loss_scaling:
            return lambda name, value: self.trackers[name].update_state(value)
        skipped = ops.equal(self._discriminator_updates(), updates_before)
        self.trackers["skipped_d_steps"].update_state(ops.cast(skipped, "float32"))
        finite = ops.isfinite(total)
        weight = ops.cast(finite, "float32")

        def track(name, value):
            kept = ops.where(finite, value, ops.zeros_like(value))
            self.trackers[name].update_state(kept, sample_weight=weight)

        return track

    def _track_discriminator(self, track, total, real_scores, fake_scores, penalties) -> None:
        track("d_loss", total)
        for name, value in self.adversarial_loss.discriminator_numbers(
            real_scores, fake_scores
        ).items():
            track(name, value)
        for part, value in zip(self.regularisers, penalties, strict=True):
            if part.tracked_as:
                track(part.tracked_as, value)

    def _generator_step(self, real_images, labels) -> None:
        z, labels = self.generator_inputs(ops.shape(real_images)[0], labels)
        needs_real = self.adversarial_loss.generator_needs_real_scores
        conditioning = self.conditioning

        def losses():
            fake_images = self.generate(z, labels)
            discriminate = self.discriminate
            if self.unrolling is not None:
                discriminate = self._unrolled_discriminator(real_images, fake_images, labels)
            fake_outputs = discriminate(self.seen_by_discriminator(fake_images), labels)
            fake_scores = conditioning.scores(fake_outputs)
            real_scores = None
            if needs_real:
                real_seen = self.seen_by_discriminator(real_images)
                real_scores = conditioning.scores(discriminate(real_seen, labels))
            loss = ops.mean(self.adversarial_loss.generator_loss(fake_scores, real_scores))
            own_term = conditioning.generator_term(fake_outputs, labels)
            if own_term is not None:
                loss = loss + own_term
            return loss + self.weight_penalty(self.generator), loss

        loss = minimise(losses, self.generator, self.g_optimizer)
        self.trackers["g_loss"].update_state(loss)

    def _unrolled_discriminator(self, real_images, fake_images, labels):
        """D as `unrolling.steps` updates of its loss would leave it: (images, labels)
        -> outputs, differentiable in G's weights through the fakes and the steps.

        D runs statelessly on copies of its weights, so the real D, its BatchNorm
        statistics and its optimizer are untouched. The unrolled loss is D's
        adversarial loss and the conditioning's own term (ACGAN's classifier,
        InfoGAN's information term), on this step's real slice and fakes.
        """
        discriminator = self.discriminator
        non_trainable = [ops.convert_to_tensor(v) for v in discriminator.non_trainable_variables]

        def outputs(weights, images, labels):
            inputs = self._discriminator_inputs(images, labels)
            result, _ = discriminator.stateless_call(weights, non_trainable, inputs, training=True)
            return result

        def discriminator_loss(weights):
            real_outputs = outputs(weights, real_images, labels)
            fake_outputs = outputs(weights, fake_images, labels)
            loss = ops.mean(
                self.adversarial_loss.discriminator_loss(
                    self.conditioning.scores(real_outputs), self.conditioning.scores(fake_outputs)
                )
            )
            own_term, _ = self.conditioning.discriminator_terms(real_outputs, fake_outputs, labels)
            return loss if own_term is None else loss + own_term

        unrolled = self.unrolling.unroll(
            discriminator_loss, discriminator.trainable_variables, self.d_optimizer
        )
        return lambda images, labels: outputs(unrolled, images, labels)


def sum_of_present(values):
    """The sum of the values that are not None; 0.0 when none is (a part that does not apply)."""
    present = [value for value in values if value is not None]
    return sum(present[1:], present[0]) if present else 0.0


def loss_scale(optimizer: keras.optimizers.Optimizer):
    """The current loss scale of a `LossScaleOptimizer` (float16); None for any other."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer.dynamic_scale
    return None
