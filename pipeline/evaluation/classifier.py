"""The domain classifier ("evaluator") whose features and logits score samples.

InceptionV3 weights cannot be downloaded here and would not suit 28x28
digits anyway, so, as TF-GAN does for MNIST, a small CNN trained on the real
data supplies the feature space for the Frechet distance and the class
predictions for the classifier score and mode coverage. Point data from a
known mixture (the `ring` source) gets that mixture's exact Bayes classifier
instead (`mixture_classifier`).
"""

from __future__ import annotations

import keras
import numpy as np
import scipy.special
from keras import layers

from pipeline import backend
from pipeline.data.stream import BatchStream, Examples
from pipeline.evaluation.features import FEATURES_LAYER, LOGITS_LAYER, embed, feature_extractor
from pipeline.evaluation.mixture import Mixture
from pipeline.params import EvaluatorParams


def _conv_block(x: keras.KerasTensor, filters: int, name: str) -> keras.KerasTensor:
    """3x3 convolution, batch norm, ReLU."""
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    # Batch norm is what lets 5 epochs on a 4,000-image split reach ~97%
    # test accuracy (~96% without). The default momentum of 0.99 leaves the
    # moving statistics far from converged after ~160 steps, which wrecks
    # inference-mode accuracy; 0.9 settles within a few dozen steps.
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_classifier(
    image_shape: tuple[int, int, int], num_classes: int, feature_dim: int
) -> keras.Model:
    """Build the classifier CNN (uncompiled).

    Stock layers only, in a functional graph, so that
    `keras.saving.load_model` reloads a saved classifier without project code.

    Args:
        image_shape: `(height, width, channels)` of the inputs, scaled to [-1, 1].
        num_classes: number of output classes.
        feature_dim: width of the penultimate "features" layer, the
            embedding used for Frechet distances.

    Returns:
        A model mapping images to unnormalised class logits.
    """
    inputs = keras.Input(shape=tuple(image_shape), name="image")
    x = _conv_block(inputs, 32, "conv1")
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = _conv_block(x, 64, "conv2")
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = _conv_block(x, 64, "conv3")
    x = layers.Flatten(name="flatten")(x)
    features = layers.Dense(feature_dim, activation="relu", name=FEATURES_LAYER)(x)
    x = layers.Dropout(0.3, name="dropout")(features)
    logits = layers.Dense(num_classes, name=LOGITS_LAYER)(x)
    return keras.Model(inputs, logits, name="evaluator")


def train_classifier(
    train: Examples,
    test: tuple[np.ndarray, np.ndarray],
    params: EvaluatorParams,
    image_shape: tuple[int, int, int],
    num_classes: int,
    seed: int,
    verbose: int | str = 1,
) -> tuple[keras.Model, dict[str, float]]:
    """Train the classifier on `train` and measure it on `test`, on any Keras backend.

    Seeds the backend (weights and dropout) and the batch order with `seed`,
    so a run is repeatable on the same machine. The batches come from the
    seeded NumPy stream training uses (`pipeline.data.stream`); an epoch is
    the whole batches of one pass (the stream carries on where it stopped).

    Args:
        train: the examples (a split's `SplitRecords`, or `ArrayExamples`),
            images in [-1, 1].
        test: held-out images and labels in the same format.
        params: epochs, batch size, learning rate and feature width.
        image_shape: `(height, width, channels)` of the images.
        num_classes: number of classes.
        seed: seed for initialisation, dropout and the batch order.
        verbose: passed to `fit`; 1 shows the Keras progress bar.

    Returns:
        The trained model and `{"test_accuracy": float, "test_loss": float}`.
    """
    backend.seed_everything(seed)
    batches = BatchStream(train, params.batch_size, seed, labels=True)
    steps_per_epoch = max(1, len(train) // params.batch_size)
    model = build_classifier(image_shape, num_classes, params.feature_dim)
    model.compile(
        optimizer=keras.optimizers.Adam(params.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    # The stream is already shuffled; shuffle=False silences Keras's warning.
    model.fit(
        iter(batches),
        epochs=params.epochs,
        steps_per_epoch=steps_per_epoch,
        shuffle=False,
        verbose=verbose,
    )
    return model, test_scores(model, *test, params.batch_size)


def test_scores(
    model: keras.Model, images: np.ndarray, labels: np.ndarray, batch_size: int
) -> dict[str, float]:
    """The classifier's accuracy and mean cross-entropy (nats) on `images`.

    Computed from the logits `embed` gives, in float64, rather than by
    `model.evaluate`, whose TensorFlow input pipeline logs an error-level
    line about an unknown tf.data attribute on every call (TF 2.21).
    """
    _, logits = embed(feature_extractor(model), images, batch_size)
    log_probabilities = logits - scipy.special.logsumexp(logits, axis=1, keepdims=True)
    labels = np.asarray(labels)
    return {
        "test_accuracy": float(np.mean(np.argmax(logits, axis=1) == labels)),
        # 0.0 - : a perfect classifier's loss is 0.0, not -0.0, in the metrics file.
        "test_loss": float(0.0 - np.mean(log_probabilities[np.arange(len(labels)), labels])),
    }


def mixture_classifier(mixture: Mixture, input_shape: tuple[int, ...]) -> keras.Model:
    """The mixture's Bayes classifier as a Keras model of stock layers (reloads with Keras alone).

    For equal weights and a common std, log p(k | x) = <x, c_k> / s^2 -
    |c_k|^2 / (2 s^2) + a term that is the same for every k: one Dense layer
    whose weights are set, not learnt. `features` is the point itself.
    """
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    features = layers.Flatten(name=FEATURES_LAYER)(inputs)
    logits = layers.Dense(len(mixture.centres), name=LOGITS_LAYER)
    outputs = logits(features)
    variance = mixture.std**2
    kernel = mixture.centres.T / variance
    bias = -np.sum(mixture.centres**2, axis=1) / (2 * variance)
    logits.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return keras.Model(inputs, outputs, name="evaluator")
