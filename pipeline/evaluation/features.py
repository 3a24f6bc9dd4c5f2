"""The evaluator's features and logits for a batch of images: Keras and NumPy only.

Every score (during training, in `evaluate`) goes through `embed`; it runs
on any backend, so a JAX training scores its generator without TensorFlow.
"""

from __future__ import annotations

import keras
import numpy as np

FEATURES_LAYER = "features"
LOGITS_LAYER = "logits"


def feature_extractor(classifier: keras.Model) -> keras.Model:
    """A model mapping images to `(features, logits)` of `classifier`.

    Args:
        classifier: a model from `build_classifier` (or a reloaded copy).

    Returns:
        A functional model sharing the classifier's weights.
    """
    # A bare tensor, not a one-element list, so that calling the extractor
    # on a plain batch does not warn about a mismatched input structure.
    inputs = classifier.inputs[0] if len(classifier.inputs) == 1 else classifier.inputs
    return keras.Model(
        inputs,
        [
            classifier.get_layer(FEATURES_LAYER).output,
            classifier.get_layer(LOGITS_LAYER).output,
        ],
        name="evaluator_features",
    )


def embed(
    extractor: keras.Model, images: np.ndarray, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Features and logits for every image, in order.

    Each batch goes through `predict_on_batch`, whose compiled function Keras
    keeps on the extractor: traced once per extractor, not once per call,
    and without `predict`'s callbacks and progress handling, which cost more
    than the forward pass for a model this small.

    Args:
        extractor: a model from `feature_extractor`.
        images: NHWC images in [-1, 1].
        batch_size: images per forward pass.

    Returns:
        `(features, logits)` as float64 arrays of shapes (n, feature_dim)
        and (n, num_classes).
    """
    images = np.asarray(images, dtype=np.float32)
    features, logits = [], []
    for start in range(0, len(images), batch_size):
        batch_features, batch_logits = extractor.predict_on_batch(
            images[start : start + batch_size]
        )
        features.append(np.asarray(batch_features))
        logits.append(np.asarray(batch_logits))
    if not features:
        feature_dim = extractor.outputs[0].shape[-1]
        num_classes = extractor.outputs[1].shape[-1]
        return np.zeros((0, feature_dim)), np.zeros((0, num_classes))
    return (
        np.concatenate(features).astype(np.float64),
        np.concatenate(logits).astype(np.float64),
    )
