"""What every label-taking method shares: how the label reaches the generator.

Concatenation, projection and the auxiliary classifier differ only in the
discriminator; in the generator each offers the same two routes, chosen by
`generator_input`:

- "concat": the label's one-hot joined to z before G's first layer
  (Mirza & Osindero 2014).
- "batch_norm": z alone, and every BatchNorm of G made conditional
  (de Vries et al. 2017; BigGAN, Brock et al. 2019): normalise without a
  learned affine, then scale and shift with a per-class gamma(y), beta(y).

Stock layers only, so a saved generator reloads with Keras alone.
"""

from __future__ import annotations

from pipeline.lazy import layers
from pipeline.models.conditioning.base import Conditioning, GeneratorInput


def one_hot(label, num_classes: int):
    """The label's one-hot (N, K), made inside the network from the int32 class index."""
    return layers.CategoryEncoding(num_classes, output_mode="one_hot", name="label_one_hot")(label)


def conditional_batch_norm(x, label, num_classes: int, name: str):
    """BatchNorm whose scale and shift are looked up per class: x_hat * gamma(y) + beta(y).

    gamma starts at ones and beta at zeros for every class, so at
    initialisation the layer is exactly a plain BatchNorm's; each class then
    learns its own affine. The per-class vectors are reshaped to (1, ..., 1, C)
    so that they broadcast over the feature map's spatial axes.

    Args:
        x: features (N, ..., C), normalised per channel C.
        label: the int32 class index (N,).
        num_classes: K, the rows of each embedding.
        name: the BatchNorm layer's name; the other layers are named after it.
    """
    channels = x.shape[-1]
    broadcast = (1,) * (len(x.shape) - 2) + (channels,)
    normalised = layers.BatchNormalization(center=False, scale=False, name=name)(x)
    gamma = layers.Embedding(
        num_classes, channels, embeddings_initializer="ones", name=f"{name}_gamma"
    )(label)
    beta = layers.Embedding(
        num_classes, channels, embeddings_initializer="zeros", name=f"{name}_beta"
    )(label)
    gamma = layers.Reshape(broadcast, name=f"{name}_gamma_map")(gamma)
    beta = layers.Reshape(broadcast, name=f"{name}_beta_map")(beta)
    scaled = layers.Multiply(name=f"{name}_scaled")([normalised, gamma])
    return layers.Add(name=f"{name}_shifted")([scaled, beta])


class ClassConditioning(Conditioning):
    """A method whose networks take the class label: the generator side, shared.

    Attributes:
        generator_input: "concat" joins the one-hot label to z; "batch_norm"
            feeds z alone and makes each of G's BatchNorms conditional (the
            network must have some: an MLP generator has none).
    """

    generator_input: GeneratorInput = "concat"

    def uses_generator_batch_norm(self) -> bool:
        return self.generator_input == "batch_norm"

    def generator_entry(self, z, label, num_classes: int):
        if self.uses_generator_batch_norm():
            return z
        return layers.Concatenate(name="z_label")([z, one_hot(label, num_classes)])

    def generator_norm(self, x, label, num_classes: int, name: str):
        if self.uses_generator_batch_norm():
            return conditional_batch_norm(x, label, num_classes, name)
        return super().generator_norm(x, label, num_classes, name)
