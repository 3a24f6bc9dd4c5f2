"""What a model learns from the prepared data: images from noise, or one domain from another.

The one training sequence (`pipeline.training.session`) asks its task for
the shapes to build the networks for, the batches to fit on and the grid to
draw; the task reads the prepared data accordingly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from pipeline.data import DatasetInfo
from pipeline.data.halves import unpaired_halves
from pipeline.data.pairs import check_paired, domain_shape, paired_examples
from pipeline.data.stream import BatchStream, training_stream
from pipeline.data.unpaired import domains_pair_up, held_out_images, unpaired_examples
from pipeline.errors import PipelineError
from pipeline.evaluation.coupled import coupled_scorer
from pipeline.evaluation.cycle_scorer import unpaired_scorer
from pipeline.evaluation.evaluate import Scorer, training_scorer
from pipeline.evaluation.features import feature_extractor
from pipeline.evaluation.translation import hole_mask, translation_scorer
from pipeline.images import make_grid, rows_grid
from pipeline.models.coupled_settings import CoupledParams
from pipeline.models.translation.reconstruction import TermContext
from pipeline.models.translation.settings import PairedTranslationParams
from pipeline.models.translation.unpaired_settings import UnpairedTranslationParams
from pipeline.params import ModelParams, ModelSection
from pipeline.sampling import GRID_STREAM, generate, grid_inputs, latent_vectors, translate
from pipeline.task_file import (
    CONTINUOUS_CODES,
    COUPLED_GENERATION,
    GENERATION,
    PAIRED_TRANSLATION,
    UNPAIRED_TRANSLATION,
)

GridDrawer = Callable[[keras.Model], np.ndarray]


class WithoutReconstruction:
    """A task whose model has no reconstruction term, so no context for one."""

    def term_context(self, classifier: keras.Model | None) -> TermContext:
        """Nothing to give."""
        return TermContext()


@dataclass(frozen=True)
class Generation(WithoutReconstruction):
    """Images from noise (and a label): the GAN, CGAN, WGAN... models.

    Attributes:
        info: the prepared data.
        latent_dim: size of z.
        num_classes: 0 for an unconditional model, else the dataset's classes.
        grid_rows: the values of G's label input, a grid row each: the classes,
            or the categorical code's values of a model that draws its own
            (InfoGAN, whose batches stay unlabelled); 0 for none.
        continuous_codes: how many of z's last entries are InfoGAN's continuous
            codes (drawn uniform wherever the generator is sampled); 0 for none.
    """

    info: DatasetInfo
    latent_dim: int
    num_classes: int
    grid_rows: int = 0
    continuous_codes: int = 0

    # Training itself never needs the evaluator (its scores do: `plan`).
    needs_classifier = False

    @property
    def shapes(self) -> tuple[tuple[int, int, int], None]:
        """The generated images' shape; no second shape."""
        return tuple(self.info.image_shape), None  # type: ignore[return-value]

    def batches(self, data_dir: Path, batch_size: int, seed: int, start_batch: int) -> BatchStream:
        """Real images (with labels for a conditional model) from the training split."""
        return training_stream(data_dir, batch_size, seed, start_batch, bool(self.num_classes))

    def grid(self, data_dir: Path, seed: int, grid_size: int) -> GridDrawer:
        """A grid of samples of fixed noise: a row per class for a conditional model, per
        code value for InfoGAN."""
        latents, labels, rows, cols = grid_inputs(
            seed,
            self.latent_dim,
            grid_size,
            self.grid_rows,
            continuous_codes=self.continuous_codes,
        )
        return lambda generator: make_grid(
            generate(generator, latents, labels), rows, cols, groups=labels
        )

    def scorer(
        self, data_dir: Path, classifier: keras.Model, seed: int, num_samples: int
    ) -> Scorer:
        """The cheap metrics of `num_samples` images of the seed's noise (the evaluator's)."""
        return training_scorer(
            classifier, data_dir, seed, num_samples, continuous_codes=self.continuous_codes
        )

    def describe(self) -> dict[str, Any]:
        """task.json: what evaluate and export need to know beyond the generator (a
        model without continuous codes writes the file it always did)."""
        codes = {CONTINUOUS_CODES: self.continuous_codes} if self.continuous_codes else {}
        return {"kind": GENERATION, **codes}


@dataclass(frozen=True)
class PairedTranslation:
    """One domain's images into another's, learnt from pairs (pix2pix).

    Attributes:
        info: the prepared data.
        input_domain: the domain G reads.
        target_domain: the domain G writes.
        family: the model's family, recorded for the later stages.
        baseline: what evaluate compares it with (`pipeline.evaluation.baselines`).
    """

    info: DatasetInfo
    input_domain: str
    target_domain: str
    family: str
    baseline: str
    reconstruction_needs_evaluator: bool = False

    @property
    def needs_classifier(self) -> bool:
        """Its scores during training compare pixels; a content loss needs the evaluator."""
        return self.reconstruction_needs_evaluator

    def __post_init__(self) -> None:
        check_paired(self.info, self.input_domain, self.target_domain)

    @property
    def shapes(self) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """(input shape, target shape)."""
        return domain_shape(self.info, self.input_domain), domain_shape(
            self.info, self.target_domain
        )

    def batches(self, data_dir: Path, batch_size: int, seed: int, start_batch: int) -> BatchStream:
        """(inputs, targets) batches of the training split's pairs."""
        pairs = paired_examples(data_dir, self.input_domain, self.target_domain, "train")
        return BatchStream(pairs, batch_size, seed, start_batch, labels=True)

    def grid(self, data_dir: Path, seed: int, grid_size: int) -> GridDrawer:
        """Rows of test inputs, their translations and their targets: the first
        `grid_size` test pairs (the test split's order is already shuffled)."""
        pairs = paired_examples(data_dir, self.input_domain, self.target_domain, "test")
        shown = np.arange(min(grid_size, len(pairs)))
        inputs, targets = pairs.take(shown)
        return lambda generator: rows_grid([inputs, translate(generator, inputs), targets])

    def term_context(self, classifier: keras.Model | None) -> TermContext:
        """The input domain's hole, and the evaluator's frozen features when there is one."""
        features = None
        if classifier is not None:
            classifier.trainable = False
            features = feature_extractor(classifier)
        return TermContext(hole=hole_mask(self.info, self.input_domain), features=features)

    def scorer(
        self, data_dir: Path, classifier: keras.Model | None, seed: int, num_samples: int
    ) -> Scorer:
        """The cheap pixel metrics of the first `num_samples` test pairs' translations."""
        return translation_scorer(data_dir, self.input_domain, self.target_domain, num_samples)

    def describe(self) -> dict[str, Any]:
        """task.json: what the generator translates, for evaluate, export and generate."""
        return {
            "kind": PAIRED_TRANSLATION,
            "family": self.family,
            "input": self.input_domain,
            "target": self.target_domain,
            "baseline": self.baseline,
        }


@dataclass(frozen=True)
class UnpairedTranslation(WithoutReconstruction):
    """One domain's images into another's and back, learnt without pairs (CycleGAN).

    Attributes:
        info: the prepared data.
        input_domain: the domain G_AB reads (A).
        target_domain: the domain G_AB writes (B).
        family: the model's family, recorded for the later stages.
    """

    info: DatasetInfo
    input_domain: str
    target_domain: str
    family: str

    # Training needs no evaluator; evaluate trains its own classifier of the target.
    needs_classifier = False

    @property
    def shapes(self) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """(input shape, target shape)."""
        return domain_shape(self.info, self.input_domain), domain_shape(
            self.info, self.target_domain
        )

    def batches(self, data_dir: Path, batch_size: int, seed: int, start_batch: int) -> BatchStream:
        """(a, b) batches of unpaired training images (`pipeline.data.unpaired`)."""
        examples = unpaired_examples(
            data_dir, self.info, self.input_domain, self.target_domain, seed
        )
        return BatchStream(examples, batch_size, seed, start_batch, labels=True)

    def grid(
        self, data_dir: Path, seed: int, grid_size: int, inverse: keras.Model | None = None
    ) -> GridDrawer:
        """Rows of the first test inputs, their translations and those translated back
        (the cycle, by G_BA, `inverse`)."""
        inputs = held_out_images(data_dir, self.input_domain, grid_size)

        def draw(generator: keras.Model) -> np.ndarray:
            outputs = translate(generator, inputs)
            rows = [inputs, outputs]
            return rows_grid(rows if inverse is None else [*rows, translate(inverse, outputs)])

        return draw

    def scorer(
        self,
        data_dir: Path,
        classifier: keras.Model | None,
        seed: int,
        num_samples: int,
        inverse: keras.Model | None = None,
    ) -> Scorer:
        """The cheap metrics of the first `num_samples` test inputs: the cycle error (by
        `inverse`), and the pixel metrics against the true targets where the domains pair up."""
        paired = domains_pair_up(self.info, self.input_domain, self.target_domain)
        return unpaired_scorer(
            data_dir, self.input_domain, self.target_domain, num_samples, inverse, paired
        )

    def describe(self) -> dict[str, Any]:
        """task.json: what the generator translates, for evaluate, export and generate."""
        return {
            "kind": UNPAIRED_TRANSLATION,
            "family": self.family,
            "input": self.input_domain,
            "target": self.target_domain,
        }


@dataclass(frozen=True)
class CoupledGeneration(WithoutReconstruction):
    """Images of two domains from one z, learnt from unpaired halves of the data (CoGAN).

    Attributes:
        info: the prepared data.
        first_domain: the domain G1 makes (the published generator's).
        second_domain: the domain G2 makes, a transform of the first.
        family: the model's family, recorded for the later stages.
        latent_dim: size of z.
    """

    info: DatasetInfo
    first_domain: str
    second_domain: str
    family: str
    latent_dim: int

    # Training needs no evaluator; its scores of G1 do (`plan`).
    needs_classifier = False

    def __post_init__(self) -> None:
        first, second = self.shapes
        if first[:2] != second[:2]:
            raise PipelineError(
                f"domains: {self.first_domain!r} is {first[0]}x{first[1]} and "
                f"{self.second_domain!r} {second[0]}x{second[1]}; coupled networks need one "
                "size (allowed second domains: edges, negative, colour, masked)"
            )

    @property
    def shapes(self) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """(first domain's shape, second domain's shape)."""
        return domain_shape(self.info, self.first_domain), domain_shape(
            self.info, self.second_domain
        )

    @property
    def examples_per_pass(self) -> int:
        """A pass is over one half of the training split (`pipeline.data.halves`)."""
        return self.info.splits["train"].count // 2

    def batches(self, data_dir: Path, batch_size: int, seed: int, start_batch: int) -> BatchStream:
        """(first, second) batches: each domain's images from its own half of the split."""
        halves = unpaired_halves(data_dir, self.first_domain, self.second_domain, seed)
        return BatchStream(halves, batch_size, seed, start_batch, labels=True)

    def grid(
        self, data_dir: Path, seed: int, grid_size: int, second: keras.Model | None = None
    ) -> GridDrawer:
        """The paper's figure: a column per z, G1(z) above G2(z); `grid_size // 2` such
        pairs of rows (at least one), so the grid stays about square."""
        pairs = max(1, grid_size // 2)
        latents = latent_vectors(seed, pairs * grid_size, self.latent_dim, GRID_STREAM)

        def draw(generator: keras.Model) -> np.ndarray:
            rows = []
            for row in np.split(latents, pairs):
                rows.append(generate(generator, row))
                if second is not None:
                    rows.append(generate(second, row))
            return rows_grid(rows)

        return draw

    def scorer(
        self,
        data_dir: Path,
        classifier: keras.Model | None,
        seed: int,
        num_samples: int,
        second: keras.Model | None = None,
    ) -> Scorer:
        """The pixel agreement of G1 and G2 (`second`), and G1's cheap metrics by the evaluator."""
        first_scorer = None
        if classifier is not None:
            first_scorer = training_scorer(classifier, data_dir, seed, num_samples)
        if second is None:
            raise PipelineError("a coupled model's scores need its second generator")
        return coupled_scorer(self.second_domain, seed, num_samples, second, first_scorer)

    def describe(self) -> dict[str, Any]:
        """task.json: the two domains, for evaluate and export."""
        return {
            "kind": COUPLED_GENERATION,
            "family": self.family,
            "first": self.first_domain,
            "second": self.second_domain,
        }


Task = Generation | PairedTranslation | UnpairedTranslation | CoupledGeneration


def task_for(params: ModelSection, info: DatasetInfo, num_classes: int) -> Task:
    """The task a model's params section sets it on this data."""
    return TASKS[type(params)](params, info, num_classes)


def _paired_translation(params: PairedTranslationParams, info: DatasetInfo, _: int) -> Task:
    task, needs_evaluator = params.task, params.reconstruction.needs_evaluator
    return PairedTranslation(
        info, task.input, task.target, params.family, params.baseline, needs_evaluator
    )


def _unpaired_translation(params: UnpairedTranslationParams, info: DatasetInfo, _: int) -> Task:
    return UnpairedTranslation(info, params.task.input, params.task.target, params.family)


def _coupled_generation(params: CoupledParams, info: DatasetInfo, _: int) -> Task:
    domains, latent_dim = params.domains, params.network.latent_dim
    return CoupledGeneration(info, domains.first, domains.second, params.family, latent_dim)


# Each model kind's task, by its params class: from (params, the data, its class count).
TASKS: dict[type, Callable[[Any, DatasetInfo, int], Task]] = {
    ModelParams: lambda params, info, num_classes: Generation(
        info,
        params.network.latent_dim,
        num_classes,
        params.conditioning.generator_label_values(num_classes),
        params.conditioning.continuous_codes(),
    ),
    PairedTranslationParams: _paired_translation,
    UnpairedTranslationParams: _unpaired_translation,
    CoupledParams: _coupled_generation,
}
