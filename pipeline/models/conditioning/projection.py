"""The projection discriminator (Miyato & Koyama 2018): the label enters D only at its output."""

from __future__ import annotations

from typing import Literal

from pipeline.lazy import layers
from pipeline.models.conditioning.base import InitializerFactory, LayerWrap, dense_head
from pipeline.models.conditioning.label_inputs import ClassConditioning, one_hot


class Projection(ClassConditioning):
    """D(x, y) = psi(phi(x)) + <embed(y), phi(x)>.

    D's trunk phi sees the image alone; its features are scored by a linear
    psi, plus their inner product with a learned embedding of the class. The
    paper derives this form from the log-likelihood ratio of a conditional
    model, and finds it conditions better than concatenating the label to
    D's input (this project's measurements agree: see REFERENCE.md).
    """

    kind: Literal["projection"] = "projection"

    def discriminator_output(
        self,
        features,
        label,
        num_classes: int,
        wrap: LayerWrap,
        *,
        initializer: InitializerFactory | None = None,
    ):
        score = dense_head(1, "logit", wrap, initializer)(features)
        # The embedding as a bias-free Dense on the one-hot: the same matrix
        # (K, F) and the same lookup, but one that `wrap` can spectrally
        # normalise. Keras' SpectralNormalization casts a wrapped layer's output
        # to its input's dtype, which would turn an Embedding's int32 label
        # lookup into integers.
        embedding = wrap(layers.Dense(features.shape[-1], use_bias=False, name="label_embedding"))
        embedded = embedding(one_hot(label, num_classes))
        projection = layers.Dot(axes=1, name="projection")([embedded, features])
        return layers.Add(name="score")([score, projection])
