"""The coupled GAN (CoGAN, Liu & Tuzel 2016): two GANs, one per domain, trained as one.

Its own module beside `adversarial.py`, not under `translation/`: CoGAN maps
noise to images, as the noise models do, only to two domains at once; it has
no input image to translate. The networks share layers
(`pipeline.models.coupled_networks`), so the same z gives a pair of images that
show one scene in both domains, learnt without a single pair.
"""

from __future__ import annotations

import keras
from keras import ops

from pipeline.backend import minimise, replica_index, replicas_in_sync, step_results
from pipeline.models.coupled_networks import build_coupled_pair
from pipeline.models.coupled_settings import CoupledParams
from pipeline.models.losses.base import AdversarialLoss
from pipeline.models.two_networks import NetworkGroup, TwoNetworkModel


class CoupledGAN(TwoNetworkModel):
    """G1, D1 on the first domain and G2, D2 on the second, with shared layers.

    Each step: one discriminator update of both Ds (each on its own domain's
    real batch and the fakes of one z, the same z for both generators), then
    one generator update of both Gs through the updated Ds (fresh z). The
    losses are summed over the two domains; shared weights get the sum of
    both gradients, as in the paper.

    `generator` is G1 (published as generator.keras) and `discriminator` D1;
    `second_generator` and `second_discriminator` are published beside them.

    Args:
        generators: (G1, G2), each z -> images of its domain.
        discriminators: (D1, D2), each images -> one raw score each.
        loss: the adversarial loss pair.
        latent_dim: size of z.
        seed: seed of the noise drawn inside `train_step`.
    """

    def __init__(
        self,
        *,
        generators: tuple[keras.Model, keras.Model],
        discriminators: tuple[keras.Model, keras.Model],
        loss: AdversarialLoss,
        latent_dim: int,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(generator=generators[0], discriminator=discriminators[0], **kwargs)
        self.second_generator = generators[1]
        self.second_discriminator = discriminators[1]
        self.generators = NetworkGroup(*generators)
        self.discriminators = NetworkGroup(*discriminators)
        self.adversarial_loss = loss
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.make_trackers()

    def tracked_names(self) -> list[str]:
        names = ["d_loss", "g_loss"]
        if self.adversarial_loss.threshold is not None:
            names += ["d1_acc_real", "d1_acc_fake", "d2_acc_real", "d2_acc_fake"]
        return names

    def published_networks(self) -> dict[str, keras.Model]:
        return {
            "discriminator": self.discriminator,
            "second_generator": self.second_generator,
            "second_discriminator": self.second_discriminator,
        }

    def task_networks(self) -> dict[str, keras.Model]:
        """G2: the grid draws both domains and the scores compare them."""
        return {"second": self.second_generator}

    def build_optimizers(self) -> None:
        self.d_optimizer.build(self.discriminators.trainable_variables)
        self.g_optimizer.build(self.generators.trainable_variables)

    def step(self, data) -> dict:
        first, second = data[0], data[1]
        self._discriminator_step(first, second)
        self._generator_step(first, second)
        return step_results({name: tracker.result() for name, tracker in self.trackers.items()})

    def sample_latents(self, batch_size):
        """z for this replica: one global draw sliced per replica, as the noise models do."""
        replicas = replicas_in_sync()
        if replicas == 1:
            return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        noise = keras.random.normal(
            (batch_size * replicas, self.latent_dim), seed=self.seed_generator
        )
        start = replica_index() * batch_size
        return ops.slice(noise, (start, 0), (batch_size, self.latent_dim))

    def _discriminator_step(self, first, second) -> None:
        z = self.sample_latents(ops.shape(first)[0])
        fakes = (self.generator(z, training=True), self.second_generator(z, training=True))
        reals = (first, second)
        judges = (self.discriminator, self.second_discriminator)
        loss_pair = self.adversarial_loss

        def losses():
            scores = [
                (judge(real, training=True), judge(fake, training=True))
                for judge, real, fake in zip(judges, reals, fakes, strict=True)
            ]
            total = sum(ops.mean(loss_pair.discriminator_loss(r, f)) for r, f in scores)
            return total, (total, scores)

        total, scores = minimise(losses, self.discriminators, self.d_optimizer)
        self.trackers["d_loss"].update_state(total)
        threshold = loss_pair.threshold
        if threshold is None:
            return
        for index, (real_scores, fake_scores) in enumerate(scores, start=1):
            real_right = ops.cast(real_scores > threshold, "float32")
            fake_right = ops.cast(fake_scores < threshold, "float32")
            self.trackers[f"d{index}_acc_real"].update_state(ops.mean(real_right))
            self.trackers[f"d{index}_acc_fake"].update_state(ops.mean(fake_right))

    def _generator_step(self, first, second) -> None:
        z = self.sample_latents(ops.shape(first)[0])
        triples = (
            (self.generator, self.discriminator, first),
            (self.second_generator, self.second_discriminator, second),
        )
        loss_pair = self.adversarial_loss
        needs_real = loss_pair.generator_needs_real_scores

        def losses():
            total = 0.0
            for generator, judge, real in triples:
                fake_scores = judge(generator(z, training=True), training=True)
                real_scores = judge(real, training=True) if needs_real else None
                total = total + ops.mean(loss_pair.generator_loss(fake_scores, real_scores))
            return total, total

        loss = minimise(losses, self.generators, self.g_optimizer)
        self.trackers["g_loss"].update_state(loss)


def build_coupled(
    params: CoupledParams,
    first_shape: tuple[int, int, int],
    second_shape: tuple[int, int, int],
    seed: int,
) -> CoupledGAN:
    """The model `params` describes, with its networks built for the two domains' shapes."""
    network = params.network
    pair = build_coupled_pair(first_shape, second_shape, network.filters, network.latent_dim)
    return CoupledGAN(
        generators=pair.generators,
        discriminators=pair.discriminators,
        loss=params.loss,
        latent_dim=network.latent_dim,
        seed=seed,
    )
