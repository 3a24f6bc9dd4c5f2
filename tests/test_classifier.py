"""The evaluator CNN: training, reloading without project code, embeddings."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


import keras
import numpy as np
import pytest
from standalone import run_standalone

from pipeline.data.stream import ArrayExamples
from pipeline.evaluation.classifier import build_classifier, mixture_classifier, train_classifier
from pipeline.evaluation.features import embed, feature_extractor
from pipeline.evaluation.mixture import Mixture
from pipeline.params import EvaluatorParams

IMAGE_SHAPE = (28, 28, 1)


def _bright_vs_dark(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class 1 images are brighter than class 0 ones, under heavy noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n).astype(np.int32)
    means = np.where(labels == 1, 0.3, -0.3)[:, None, None, None]
    images = means + rng.normal(0.0, 0.5, size=(n, *IMAGE_SHAPE))
    return np.clip(images, -1.0, 1.0).astype(np.float32), labels


@pytest.fixture(scope="module")
def trained():
    train = ArrayExamples(*_bright_vs_dark(512, seed=0))
    test = _bright_vs_dark(256, seed=1)
    params = EvaluatorParams(epochs=2, batch_size=32, learning_rate=1e-3, feature_dim=16)
    return train_classifier(train, test, params, IMAGE_SHAPE, num_classes=2, seed=0, verbose=0)


def test_learns_a_separable_problem(trained):
    _, metrics = trained
    assert set(metrics) == {"test_accuracy", "test_loss"}
    assert metrics["test_accuracy"] >= 0.95
    assert all(isinstance(value, float) for value in metrics.values())


def test_test_scores_are_what_keras_evaluate_reports(trained):
    model, metrics = trained
    images, labels = _bright_vs_dark(256, seed=1)
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    keras_says = model.evaluate(images, labels, batch_size=32, verbose=0, return_dict=True)
    assert metrics["test_accuracy"] == pytest.approx(keras_says["accuracy"], abs=1e-6)
    # float64 here, float32 in Keras: equal to float32 rounding.
    assert metrics["test_loss"] == pytest.approx(keras_says["loss"], rel=1e-4, abs=1e-6)


def test_saved_model_reloads_with_keras_alone(trained, tmp_path):
    model, _ = trained
    model_path, inputs_path, outputs_path = (
        tmp_path / "evaluator.keras",
        tmp_path / "inputs.npy",
        tmp_path / "logits.npy",
    )
    model.save(model_path)
    images, _ = _bright_vs_dark(16, seed=2)
    np.save(inputs_path, images)
    # The ring's evaluator too (built, not trained), in the same fresh interpreter.
    three_modes = Mixture(np.array([[0.8, 0.0], [0.0, 0.8], [-0.8, 0.0]]), 0.01)
    ring = mixture_classifier(three_modes, (1, 1, 2))
    ring.save(tmp_path / "ring.keras")
    points = np.array([[[[0.79, 0.02]]], [[[-0.1, 0.7]]], [[[-0.6, -0.1]]]], np.float32)
    np.save(tmp_path / "points.npy", points)
    run_standalone(
        f"""
        import keras, numpy as np
        model = keras.saving.load_model({str(model_path)!r})
        logits = model(np.load({str(inputs_path)!r}), training=False)
        np.save({str(outputs_path)!r}, np.asarray(logits))
        ring = keras.saving.load_model("ring.keras")
        np.save("ring_logits.npy", np.asarray(ring(np.load("points.npy"), training=False)))
        """,
        tmp_path,
    )
    expected = np.asarray(model(images, training=False))
    # Same weights and ops on the same machine; a tolerance only for reduction order.
    np.testing.assert_allclose(np.load(outputs_path), expected, rtol=1e-6, atol=1e-6)
    ring_logits = np.load(tmp_path / "ring_logits.npy")
    np.testing.assert_allclose(ring_logits, np.asarray(ring(points)), rtol=1e-6)
    assert np.argmax(ring_logits, axis=1).tolist() == [0, 1, 2], "each point's nearest mode"


@pytest.mark.parametrize("image_shape", [(28, 28, 1), (32, 32, 3)])
def test_feature_extractor_shapes(image_shape):
    classifier = build_classifier(image_shape, num_classes=10, feature_dim=64)
    extractor = feature_extractor(classifier)
    features, logits = extractor(np.zeros((3, *image_shape), np.float32), training=False)
    assert tuple(features.shape) == (3, 64)
    assert tuple(logits.shape) == (3, 10)
    # The extractor shares the classifier's weights: identical logits.
    np.testing.assert_allclose(logits, classifier(np.zeros((3, *image_shape), np.float32)))


def test_embed_matches_the_model_batch_by_batch(trained):
    model, _ = trained
    extractor = feature_extractor(model)
    images, labels = _bright_vs_dark(70, seed=3)
    features, logits = embed(extractor, images, batch_size=32)  # 32 + 32 + 6
    assert features.shape == (70, 16) and logits.shape == (70, 2)
    assert features.dtype == np.float64 and logits.dtype == np.float64
    np.testing.assert_allclose(logits, np.asarray(model(images, training=False)), atol=1e-5)
    # The batch size is only how the work is cut.
    one_batch_features, _ = embed(extractor, images, batch_size=70)
    np.testing.assert_allclose(one_batch_features, features, atol=1e-5)


def test_training_is_seeded():
    images, labels = _bright_vs_dark(64, seed=4)
    data, test = ArrayExamples(images, labels), (images, labels)
    params = EvaluatorParams(epochs=1, batch_size=16, feature_dim=8)
    runs = [
        train_classifier(data, test, params, IMAGE_SHAPE, num_classes=2, seed=5, verbose=0)[0]
        for _ in range(2)
    ]
    for first, second in zip(runs[0].get_weights(), runs[1].get_weights(), strict=True):
        np.testing.assert_array_equal(first, second)
