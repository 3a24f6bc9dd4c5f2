"""Spectral normalisation of the discriminator's weights (Miyato et al. 2018, SNGAN)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.lazy import keras
from pipeline.models.regularisers.base import Regulariser
from pipeline.schema import PositiveInt

if TYPE_CHECKING:
    import keras as keras_types


class SpectralNorm(Regulariser):
    """Divide each of D's weight matrices by its top singular value, estimated by power iteration.

    Each layer then has a Lipschitz constant of at most 1, and so has D
    (with 1-Lipschitz activations): the constraint WGAN's clipping aims at,
    without clipping's loss of capacity and at the cost of one matrix-vector
    product per layer and step. The wrapper is Keras' own
    `keras.layers.SpectralNormalization`, so a saved discriminator reloads
    with no project code.

    How Keras' wrapper (3.15) behaves, which these settings rely on:

    - It normalises only in a call with `training=True`: that call runs
      `power_iterations` steps from the stored vector u, saves the new u (a
      non-trainable weight) and *overwrites the wrapped layer's kernel* with
      kernel / σ. With `training=False` (or unset, Keras' default outside
      `fit`) it touches neither and uses the kernel as it is: the last
      normalised kernel plus the optimizer step taken since. The model calls
      D with `training=True` in both its D and G steps, so u is refined, and
      the kernel renormalised, on every call of either step.
    - σ is computed with u and v under `stop_gradient`, and the kernel is
      replaced by an assignment, so gradients reach the kernel as if it were
      the normalised weight: a projection after each update, not the paper's
      gradient through W / σ(W). σ converges to the true top singular value
      over a few calls from the random start of u.
    - A `Conv2D` kernel (h, w, in, out) is normalised as the (h·w·in, out)
      matrix, as in the paper; a `Dense` kernel as it is.
    - An `Embedding` is accepted by Keras (it reads `embeddings` as the
      kernel) but its output is cast to the dtype of the inputs, the integer
      labels: every embedding comes out as (truncated) integers, mostly 0.
      So `wrap_discriminator_layer` refuses an `Embedding` rather than break
      a projection discriminator silently.

    Args:
        power_iterations: power-iteration steps per training call (1 in the
            paper: u carries over between steps, so one is enough).
    """

    power_iterations: PositiveInt = 1

    def wrap_discriminator_layer(self, layer: keras_types.layers.Layer) -> keras_types.layers.Layer:
        if isinstance(layer, keras.layers.Embedding):
            # Keras casts the wrapped layer's output to the inputs' dtype (int labels).
            raise TypeError(
                "keras.layers.SpectralNormalization cannot wrap an Embedding: it casts the "
                "output to the integer dtype of the labels. Embed with a one-hot encoding and "
                "a Dense(use_bias=False) layer to normalise the class embedding."
            )
        return keras.layers.SpectralNormalization(layer, power_iterations=self.power_iterations)
