"""Latent codes G must make recoverable (InfoGAN, Chen et al. 2016): no labels, a Q head on D."""

from __future__ import annotations

from typing import ClassVar, Literal

from pipeline.lazy import layers, ops, random
from pipeline.models.conditioning.acgan import class_cross_entropy
from pipeline.models.conditioning.base import (
    Conditioning,
    InitializerFactory,
    LayerWrap,
    dense_head,
)
from pipeline.models.conditioning.label_inputs import one_hot
from pipeline.schema import NonNegativeFloat, NonNegativeInt, PositiveInt


class InformationCodes(Conditioning):
    """G gets a categorical code and continuous codes beside its noise; Q recovers them.

    Unsupervised: the data's labels never reach G or D (the model is not
    `conditional`, so its batches are images alone). For every update the
    model draws a categorical code c1, uniform over `categorical` values, and
    `continuous` codes c2 uniform in [-1, 1]. G is called as G([z, code]):
    the categorical code is its int32 `code` input, one-hot joined to z as a
    class label would be; the continuous codes are the last `continuous`
    entries of z, overwritten with the uniform draws (so `network.latent_dim`
    counts them: 62 noise + 2 codes = 64 on MNIST).

    D's body is shared by Q: D outputs [score, code logits (N, categorical),
    code means (N, continuous)]. Q's continuous posterior is a Gaussian of
    fixed unit variance (the paper fixes the std), whose negative
    log-likelihood is (c2 - mean)^2 / 2 up to a constant, summed over the codes.
    The information term, the negative of the mutual-information lower bound
    L_I up to H(c), is

        weight * cross-entropy(c1, logits) + continuous_weight * sum (c2 - mean)^2 / 2

    on fake images, added to D's loss (training Q and the shared body) and to
    G's (the paper's min_{G,Q} V - lambda L_I).

    Attributes:
        categorical: values of the categorical code (10 on MNIST).
        continuous: number of continuous codes (2 on MNIST).
        weight: lambda of the categorical term (1 in the paper).
        continuous_weight: lambda of the continuous term. The paper uses a
            smaller lambda for continuous codes on some data sets; its MNIST
            setting (the official code's `info_reg_coeff`) is 1 for both.
    """

    kind: Literal["info"] = "info"
    categorical: PositiveInt = 10
    continuous: NonNegativeInt = 2
    weight: NonNegativeFloat = 1.0
    continuous_weight: NonNegativeFloat = 1.0

    conditional: ClassVar[bool] = False
    discriminator_takes_label: ClassVar[bool] = False
    tracked_as: ClassVar[tuple[str, ...]] = ("info_loss", "q_code_acc")

    # --- while the networks are built -------------------------------------------

    def generator_takes_label(self) -> bool:
        return True

    def generator_label_values(self, num_classes: int) -> int:
        return self.categorical

    def continuous_codes(self) -> int:
        return self.continuous

    def generator_entry(self, z, label, num_classes: int):
        if z.shape[-1] <= self.continuous:
            raise ValueError(
                f"conditioning.continuous = {self.continuous}: the continuous codes are the last "
                f"entries of z, which has {z.shape[-1]}; make network.latent_dim larger"
            )
        return layers.Concatenate(name="z_code")([z, one_hot(label, self.categorical)])

    def discriminator_output(
        self,
        features,
        label,
        num_classes: int,
        wrap: LayerWrap,
        *,
        initializer: InitializerFactory | None = None,
    ):
        # Linear heads on D's last features, as ACGAN's classifier: Q shares
        # every layer of D but its output layer.
        score = dense_head(1, "logit", wrap, initializer)(features)
        logits = dense_head(self.categorical, "code_logits", wrap, initializer)(features)
        outputs = [score, logits]
        if self.continuous:
            outputs.append(dense_head(self.continuous, "code_means", wrap, initializer)(features))
        return outputs

    # --- in the train step ------------------------------------------------------

    def draw_codes(self, z, labels, seed_generator):
        batch_size = ops.shape(z)[0]
        category = random.randint((batch_size,), 0, self.categorical, seed=seed_generator)
        category = ops.cast(category, "int32")
        if not self.continuous:
            return z, (category, None)
        codes = random.uniform(
            (batch_size, self.continuous), minval=-1.0, maxval=1.0, seed=seed_generator
        )
        noise = z[:, : z.shape[-1] - self.continuous]
        return ops.concatenate([noise, ops.cast(codes, z.dtype)], axis=-1), (category, codes)

    def generator_call(self, z, labels):
        return [z, labels[0]]

    def scores(self, outputs):
        return outputs[0]

    def information_loss(self, fake_outputs, codes):
        """The weighted information term on fakes: minus L_I, up to constants."""
        category, continuous = codes
        loss = self.weight * ops.mean(class_cross_entropy(category, fake_outputs[1]))
        if self.continuous:
            squared = ops.square(continuous - fake_outputs[2])
            loss = loss + self.continuous_weight * ops.mean(0.5 * ops.sum(squared, axis=-1))
        return loss

    def discriminator_terms(self, real_outputs, fake_outputs, codes) -> tuple[object, dict]:
        term = self.information_loss(fake_outputs, codes)
        predicted = ops.cast(ops.argmax(fake_outputs[1], axis=-1), "int32")
        right = ops.cast(ops.equal(predicted, codes[0]), "float32")
        return term, {"info_loss": term, "q_code_acc": ops.mean(right)}

    def generator_term(self, fake_outputs, codes):
        return self.information_loss(fake_outputs, codes)
