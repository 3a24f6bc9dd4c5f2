"""The unpaired image-to-image model: CycleGAN (Zhu et al. 2017).

Two generators, G_AB (the published `generator`) and G_BA, and two
discriminators, D_B (the `discriminator`, judging G_AB's outputs) and D_A.
The generators learn from the adversarial loss against both discriminators,
the cycle consistency |G_BA(G_AB(a)) - a| + |G_AB(G_BA(b)) - b| and,
optionally, the identity term |G_AB(b) - b| + |G_BA(a) - a|; no pair of
images is ever compared. The discriminators see the generators' outputs
through a history pool of earlier ones (`HistoryPool`), which damps the
oscillation between the generators and the discriminators.
"""

from __future__ import annotations

import keras
from keras import ops

from pipeline.backend import minimise, step_results
from pipeline.models.losses.base import AdversarialLoss
from pipeline.models.two_networks import NetworkGroup, TwoNetworkModel

# A pooled image is swapped for the new one with this probability (the reference code's).
SWAP_PROBABILITY = 0.5


class HistoryPool(keras.layers.Layer):
    """The last `size` generated images a discriminator has seen, as non-trainable variables.

    Shrivastava et al. 2017, as CycleGAN uses it: until the pool is full, each
    new image is stored and shown to D; then each new image, with probability
    ½, is shown instead of a random stored one, which it replaces; otherwise
    it is shown itself. Vectorised over the batch: the images swapped in one
    batch take distinct random slots (so at most `size` per batch swap; the
    paper's batch is 1), and the batch that fills the pool shows itself. The
    variables are the model's, so a checkpoint holds the pool and the draws
    (the model's `SeedGenerator`) and a resumed run continues identically.

    Args:
        size: images kept; 0 passes every image through.
        image_shape: (H, W, C) of the images.
    """

    def __init__(self, size: int, image_shape: tuple[int, int, int], **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.size = size
        self.images = self.add_weight(
            shape=(max(size, 1), *image_shape),
            initializer="zeros",
            trainable=False,
            name="images",
        )
        self.count = self.add_weight(
            shape=(), initializer="zeros", dtype="int32", trainable=False, name="count"
        )

    def query(self, images, seed: keras.random.SeedGenerator):
        """What D is shown for this batch of new `images`; the pool is updated in place."""
        if self.size == 0:
            return images
        batch = ops.shape(images)[0]
        flat = ops.reshape(images, (batch, -1))
        # The variables' values (a traced step cannot take a JAX variable object itself).
        pool = ops.reshape(ops.convert_to_tensor(self.images), (self.size, -1))
        count = ops.convert_to_tensor(self.count)
        full = count >= self.size
        # Drawn every step, full or not, so the draws do not depend on the pool's state.
        draws = keras.random.uniform((self.size,), seed=seed)
        slot_rank = ops.cast(ops.argsort(ops.argsort(draws)), "int32")
        swap = keras.random.uniform((batch,), seed=seed) < SWAP_PROBABILITY
        rows = ops.expand_dims(ops.arange(batch, dtype="int32"), 1)
        slots = ops.expand_dims(ops.arange(self.size, dtype="int32"), 0)
        # Which slot each image goes to (one-hot rows; no slot twice): the next
        # empty ones while filling, else random distinct ones for the swapped images.
        fill = ops.logical_and(ops.logical_not(full), ops.equal(slots, count + rows))
        swapped = ops.logical_and(
            full,
            ops.logical_and(
                ops.expand_dims(swap, 1), ops.equal(ops.expand_dims(slot_rank, 0), rows)
            ),
        )
        written = ops.cast(ops.logical_or(fill, swapped), flat.dtype)
        swapped = ops.cast(swapped, flat.dtype)
        # One-hot products pick values exactly (x * 1 + 0 + ...), on every backend.
        shown = flat * (1 - ops.sum(swapped, 1, keepdims=True)) + ops.matmul(swapped, pool)
        kept = ops.expand_dims(1 - ops.max(written, 0), 1)
        self.images.assign(
            ops.reshape(pool * kept + ops.matmul(ops.transpose(written), flat), self.images.shape)
        )
        self.count.assign(ops.where(full, count, ops.minimum(count + batch, self.size)))
        return ops.reshape(shown, ops.shape(images))


class CycleTranslation(TwoNetworkModel):
    """One generator update (both generators), then one discriminator update (both), per
    batch of (a, b) images that do not pair up.

    Generators' loss: the adversarial loss's generator term against D_B and
    D_A, plus `cycle_weight` times the cycle L1 of both directions, plus
    `identity_weight * cycle_weight` times the identity L1 (left out where the
    domains' channels differ). Discriminators' loss: each D's own term on its
    domain's real images against pooled fakes, summed (the reference code
    halves each; Adam does not see the factor). As the reference code orders
    it: the generators step first, and the discriminators then judge the
    fakes the generators made before their step.

    Args:
        generator: G_AB, input domain to target domain (published).
        inverse_generator: G_BA, back.
        discriminator: D_B, scoring target-domain images (published).
        inverse_discriminator: D_A, scoring input-domain images.
        loss: the adversarial loss pair (CycleGAN: least squares).
        cycle_weight: λ of the cycle term.
        identity_weight: the identity term's weight as a share of λ; 0 for none.
        pool_size: generated images each discriminator's pool keeps.
        seed: seeds the pools' draws.
    """

    def __init__(
        self,
        *,
        generator: keras.Model,
        inverse_generator: keras.Model,
        discriminator: keras.Model,
        inverse_discriminator: keras.Model,
        loss: AdversarialLoss,
        cycle_weight: float = 10.0,
        identity_weight: float = 0.5,
        pool_size: int = 50,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(generator=generator, discriminator=discriminator, **kwargs)
        self.inverse_generator = inverse_generator
        self.inverse_discriminator = inverse_discriminator
        self.generators = NetworkGroup(generator, inverse_generator)
        self.discriminators = NetworkGroup(discriminator, inverse_discriminator)
        self.adversarial_loss = loss
        self.cycle_weight = cycle_weight
        self.identity_weight = identity_weight if same_channels(generator) else 0.0
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.pool_b = HistoryPool(pool_size, tuple(generator.output.shape[1:]), name="pool_b")
        self.pool_a = HistoryPool(pool_size, tuple(generator.input.shape[1:]), name="pool_a")
        self.make_trackers()

    def tracked_names(self) -> list[str]:
        names = ["d_loss", "g_loss"]
        if self.adversarial_loss.threshold is not None:
            names += ["d_acc_real", "d_acc_fake"]
        names += list(self.adversarial_loss.tracked_as)
        names += ["g_adversarial", "cycle"]
        if self.identity_weight:
            names.append("identity")
        return names

    def published_networks(self) -> dict[str, keras.Model]:
        """D_B, and G_BA and D_A: evaluation reads G_BA for the cycle error."""
        return {
            "discriminator": self.discriminator,
            "inverse_generator": self.inverse_generator,
            "inverse_discriminator": self.inverse_discriminator,
        }

    def task_networks(self) -> dict[str, keras.Model]:
        """G_BA: the grid draws the cycle and the scores measure it."""
        return {"inverse": self.inverse_generator}

    def build_optimizers(self) -> None:
        self.d_optimizer.build(self.discriminators.trainable_variables)
        self.g_optimizer.build(self.generators.trainable_variables)

    def step(self, data) -> dict:
        real_a, real_b = data[0], data[1]
        fake_b, fake_a = self._generator_step(real_a, real_b)
        self._discriminator_step(real_a, real_b, fake_a, fake_b)
        return step_results({name: tracker.result() for name, tracker in self.trackers.items()})

    def _generator_step(self, real_a, real_b):
        needs_real = self.adversarial_loss.generator_needs_real_scores
        loss = self.adversarial_loss

        def adversarial(critic, fake, real):
            real_scores = critic(real, training=True) if needs_real else None
            return ops.mean(loss.generator_loss(critic(fake, training=True), real_scores))

        def losses():
            fake_b = self.generator(real_a, training=True)
            fake_a = self.inverse_generator(real_b, training=True)
            g_adversarial = adversarial(self.discriminator, fake_b, real_b) + adversarial(
                self.inverse_discriminator, fake_a, real_a
            )
            cycle = l1(self.inverse_generator(fake_b, training=True), real_a) + l1(
                self.generator(fake_a, training=True), real_b
            )
            total = g_adversarial + self.cycle_weight * cycle
            identity = ops.zeros(())
            if self.identity_weight:
                identity = l1(self.generator(real_b, training=True), real_b) + l1(
                    self.inverse_generator(real_a, training=True), real_a
                )
                total = total + self.identity_weight * self.cycle_weight * identity
            return total, (total, g_adversarial, cycle, identity, fake_b, fake_a)

        total, g_adversarial, cycle, identity, fake_b, fake_a = minimise(
            losses, self.generators, self.g_optimizer
        )
        self.trackers["g_loss"].update_state(total)
        self.trackers["g_adversarial"].update_state(g_adversarial)
        self.trackers["cycle"].update_state(cycle)
        if self.identity_weight:
            self.trackers["identity"].update_state(identity)
        return ops.stop_gradient(fake_b), ops.stop_gradient(fake_a)

    def _discriminator_step(self, real_a, real_b, fake_a, fake_b) -> None:
        shown_b = self.pool_b.query(fake_b, self.seed_generator)
        shown_a = self.pool_a.query(fake_a, self.seed_generator)

        def losses():
            real_b_scores = self.discriminator(real_b, training=True)
            fake_b_scores = self.discriminator(shown_b, training=True)
            real_a_scores = self.inverse_discriminator(real_a, training=True)
            fake_a_scores = self.inverse_discriminator(shown_a, training=True)
            d_loss = ops.mean(
                self.adversarial_loss.discriminator_loss(real_b_scores, fake_b_scores)
            ) + ops.mean(self.adversarial_loss.discriminator_loss(real_a_scores, fake_a_scores))
            return d_loss, (d_loss, (real_b_scores, real_a_scores), (fake_b_scores, fake_a_scores))

        d_loss, real_scores, fake_scores = minimise(losses, self.discriminators, self.d_optimizer)
        self.trackers["d_loss"].update_state(d_loss)
        threshold = self.adversarial_loss.threshold
        if threshold is not None:
            self.trackers["d_acc_real"].update_state(
                mean_share([ops.cast(s > threshold, "float32") for s in real_scores])
            )
            self.trackers["d_acc_fake"].update_state(
                mean_share([ops.cast(s < threshold, "float32") for s in fake_scores])
            )
        # A loss's own numbers (the Wasserstein estimate), of D_B: the published pair.
        for name, value in self.adversarial_loss.discriminator_metrics(
            real_scores[0], fake_scores[0]
        ).items():
            self.trackers[name].update_state(value)


def l1(images, targets):
    """Mean absolute difference over every pixel of the batch."""
    return ops.mean(ops.abs(images - targets))


def mean_share(decisions: list) -> object:
    """The mean of each discriminator's share of right decisions."""
    return sum(ops.mean(d) for d in decisions) / len(decisions)


def same_channels(generator: keras.Model) -> bool:
    """Whether a generator's images keep their channels: the identity term needs it."""
    return generator.input.shape[-1] == generator.output.shape[-1]
