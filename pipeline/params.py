"""Typed schema for `params.yaml`: every key, its type, its limits and its default.

Every stage reads its parameters through `load_params`, which validates the
whole file before any work starts. A mistake raises `ParamsError` with one
line naming the key path, the bad value and what is allowed
(pipeline/params_file.py reads the file, pipeline/params_messages.py words
the line). A stage then takes only its own values
(pipeline/stage_values.py), the ones the `params` stage writes to resolved/
for DVC to track.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from pipeline.data.domains import DOMAINS
from pipeline.data.sources import Mnist5k, SourceSettings
from pipeline.models.conditioning import ConditioningSettings
from pipeline.models.coupled_settings import COUPLED_FAMILIES, CoupledParams
from pipeline.models.losses import LossSettings
from pipeline.models.networks import NetworkSettings
from pipeline.models.presets import PRESETS, with_preset
from pipeline.models.regularisers import Regularisers
from pipeline.models.translation.settings import TRANSLATION_FAMILIES, PairedTranslationParams
from pipeline.models.translation.unpaired_settings import (
    UNPAIRED_FAMILIES,
    UnpairedTranslationParams,
)
from pipeline.models.unrolling import Unrolling, unrolling_conflict
from pipeline.params_file import ParamsError, read_params_file
from pipeline.params_messages import first_error, label, quote
from pipeline.schema import (
    MAX_FEATURE_DIM,
    MAX_GRID_SIZE,
    MAX_INTERPOLATION_STEPS,
    MAX_KID_SUBSETS,
    MAX_SAMPLES,
    MAX_SEEDS,
    MAX_SHARD_SIZE,
    MIN_INTERPOLATION_STEPS,
    MIN_SAMPLES,
    BatchSize,
    Epochs,
    Fraction,
    GridSize,
    PositiveFloat,
    PositiveInt,
    SampleCount,
    Section,
    Seed,
    Truncation,
)
from pipeline.train_settings import (
    TrainParams,
)

DEFAULT_PARAMS_PATH = Path("params.yaml")

# Model and experiment names become folder names, run names and DVC stage keys.
MAX_NAME_CHARS = 64
EXPERIMENT_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_NAME_CHARS - 1}}}")
EXPERIMENT_RULE = (
    f"must be a name, not a path: letters, digits, '_', '-', '.', starting with a "
    f"letter or digit, at most {MAX_NAME_CHARS} characters, no '..'"
)
MODEL_NAME_RULE = f"identifiers of at most {MAX_NAME_CHARS} characters"


def _experiment_name(value: str) -> str:
    # The local store keeps artifacts under a folder named after the experiment:
    # a path (`../x`, `/tmp/x`) would write them outside the repository.
    if EXPERIMENT_NAME.fullmatch(value) and ".." not in value:
        return value
    raise PydanticCustomError("experiment_name", EXPERIMENT_RULE)


ExperimentName = Annotated[str, AfterValidator(_experiment_name)]


# --- prepare -----------------------------------------------------------------


# A derived domain's name (`pipeline/data/domains/`), checked against the registry.
DomainName = Literal[tuple(DOMAINS)]  # type: ignore[valid-type]


def _each_once(names: list[str]) -> list[str]:
    # A repeat would write the same domain (or format) twice; say so rather than quietly drop it.
    seen: set[str] = set()
    for name in names:
        if name in seen:
            # The names are the registry's (checked first), so no braces to escape.
            raise PydanticCustomError(
                "listed_twice", f"{name!r} is listed twice (allowed: each once)"
            )
        seen.add(name)
    return names


class PrepareParams(Section):
    """The `prepare` section: a source (`pipeline/data/sources/`), then how it is split and stored.

    `source` holds the keys of the kind it names, and only those, each
    defaulted in that source's own file. `domains` lists derived domains
    (`pipeline/data/domains/`) to store beside the images; none by default,
    so the default prepared data is exactly that of a one-domain dataset.
    """

    # The offline subset by default: `dvc repro` works with no network and no files.
    source: SourceSettings = Mnist5k()
    test_fraction: Fraction = 0.2
    shard_size: Annotated[int, Field(gt=0, le=MAX_SHARD_SIZE)] = 10_000
    domains: Annotated[list[DomainName], AfterValidator(_each_once)] = []

    @model_validator(mode="after")
    def _points_have_no_domains(self) -> PrepareParams:
        if self.source.gives_points and self.domains:
            raise ValueError(
                f"domains: the {self.source.kind} source gives points, from which no image "
                "domain can be derived (allowed: [])"
            )
        return self

    def domain_names(self) -> list[str]:
        """The image domains `prepare` writes: `A`, the source's images, then the rest."""
        return ["A", *self.source.second_domains, *self.domains]

    def paired_domains(self) -> set[str]:
        """The domains whose images pair up with `A`'s one to one (and so with each other)."""
        second = {name for name, paired in self.source.second_domains.items() if paired}
        return {"A", *second, *self.domains}


# --- evaluator (the domain classifier) -----------------------------------------


class EvaluatorParams(Section):
    epochs: Epochs = 5
    batch_size: BatchSize = 128
    learning_rate: PositiveFloat = 1e-3  # no upper bound, as for the GANs' optimizers
    feature_dim: Annotated[int, Field(gt=0, le=MAX_FEATURE_DIM)] = 64


# --- models ------------------------------------------------------------------


# The params class of each family that is not a noise model's preset: a model
# kind with a section of its own (`section_class`). A new kind is its section
# class and its families here, a model builder (`pipeline.training.model`) and a
# task (`pipeline.training.tasks`).
OTHER_SECTIONS: dict[str, type[Section]] = {
    **dict.fromkeys(TRANSLATION_FAMILIES, PairedTranslationParams),
    **dict.fromkeys(UNPAIRED_FAMILIES, UnpairedTranslationParams),
    **dict.fromkeys(COUPLED_FAMILIES, CoupledParams),
}
# Every family a model section may name; `ModelParams` only ever sees its presets.
Family = Literal[tuple(PRESETS) + tuple(OTHER_SECTIONS)]  # type: ignore[valid-type]


class ModelParams(Section):
    """One model's section: a preset (`family`) and any part of it overridden.

    What the section leaves out comes from its preset, then from each part's
    own defaults (`pipeline/models/presets.py`).
    """

    family: Family = "gan"
    loss: LossSettings
    conditioning: ConditioningSettings
    network: NetworkSettings
    regularisers: Regularisers = Regularisers()
    train: TrainParams = TrainParams()
    # Unrolled GAN (`pipeline/models/unrolling.py`); None: the plain generator step.
    unrolling: Unrolling | None = None

    @model_serializer(mode="wrap")
    def _without_unset_slots(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Unrolling off is left out of resolved/ and the run's params, so adding
        # the slot changed no existing model's record (nor re-ran its stages).
        data = handler(self)
        if data.get("unrolling") is None:
            data.pop("unrolling", None)
        return data

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        family = data.get("family", "gan")
        # Only a known string names a preset (a list or mapping is unhashable);
        # anything else is left for the `family` field to reject in one line.
        if not isinstance(family, str) or family not in PRESETS:
            return data
        return with_preset(family, data)

    @model_validator(mode="after")
    def _check_parts_fit(self) -> ModelParams:
        for name, part in self.regularisers.named_parts():
            if part.needs_per_example_critic and self.network.discriminator_mixes_batch():
                raise ValueError(
                    f"regularisers.{name}: its penalty differentiates D per example, and this "
                    f"{self.network.kind} discriminator mixes the batch through BatchNorm "
                    "(allowed: network.discriminator_norm 'layer' or 'none')"
                )
        conflict = self.network.conditioning_conflict(self.conditioning)
        if conflict:
            raise ValueError(conflict)
        regularisers = [name for name, _ in self.regularisers.named_parts()]
        conflict = unrolling_conflict(self.unrolling, regularisers, self.train)
        if conflict:
            raise ValueError(conflict)
        return self

    # A noise model reads only the source's images.
    learns_from_pairs: ClassVar[bool] = False

    def domains_read(self) -> dict[str, str]:
        """The prepared domains it reads besides A: none."""
        return {}

    @property
    def conditional(self) -> bool:
        """Whether the networks take a class label."""
        return self.conditioning.conditional

    def part_tags(self) -> dict[str, str]:
        """Which part fills each slot, as the training run's MLflow tags."""
        regularisers = ",".join(name for name, _ in self.regularisers.named_parts())
        return {
            "loss": self.loss.name,
            "network": self.network.kind,
            "conditioning": self.conditioning.kind,
            "regularisers": regularisers or "none",
        }


ModelSection = ModelParams | PairedTranslationParams | UnpairedTranslationParams | CoupledParams


def section_class(raw: Any) -> type[ModelSection]:
    """The class a model section is validated as, from the family it names."""
    family = raw.get("family") if isinstance(raw, dict) else None
    # Only a string names a family (a list or mapping is unhashable).
    return OTHER_SECTIONS.get(family, ModelParams) if isinstance(family, str) else ModelParams


def applicable_params(model: ModelSection) -> dict[str, Any]:
    """`model` as nested values, without the keys that do nothing for it.

    The schema refuses keys that do not apply to a part; what is left is
    the number of quality samples when quality is not scored.
    """
    data = model.model_dump()
    if not model.train.eval_every:
        data["train"].pop("eval_samples")
    return data


# --- evaluate, export, tracking ----------------------------------------------


class EvaluateParams(Section):
    num_samples: SampleCount = 1000
    batch_size: BatchSize = 256
    coverage_threshold: Fraction = 0.1
    kid_subsets: Annotated[int, Field(gt=0, le=MAX_KID_SUBSETS)] = 100
    # Bounded by num_samples below, and so by MAX_SAMPLES.
    kid_subset_size: Annotated[int, Field(ge=MIN_SAMPLES)] = 500
    classifier_score_splits: PositiveInt = 10
    precision_recall_k: PositiveInt = 3
    density_coverage_k: PositiveInt = 5

    @model_validator(mode="after")
    def _check_sample_sizes(self) -> EvaluateParams:
        # Each of these is drawn from, or counts neighbours among, the
        # num_samples scored images; past its limit the metric is meaningless.
        n = self.num_samples
        limits = (
            ("kid_subset_size", "num_samples", n, "a subset is drawn from the samples"),
            ("precision_recall_k", "num_samples - 1", n - 1, "a k-NN ball needs k other points"),
            ("density_coverage_k", "num_samples - 1", n - 1, "a k-NN ball needs k other points"),
            (
                "classifier_score_splits",
                "num_samples // 2",
                n // 2,
                "a split of one image always scores 1.0",
            ),
        )
        for key, formula, limit, why in limits:
            value = getattr(self, key)
            if value > limit:
                raise ValueError(f"{key} = {value}: allowed at most {formula} = {limit} ({why})")
        return self


def _distinct_thresholds(values: list[float]) -> list[float]:
    # Two rows of one threshold are the same images twice: a slip, not a choice.
    seen: set[float] = set()
    for value in values:
        if value in seen:
            raise PydanticCustomError(
                "listed_twice", f"{value} is listed twice (allowed: each threshold once)"
            )
        seen.add(value)
    return values


# The generator's serving formats (`pipeline/formats.py` writes and checks each).
ExportFormat = Literal["saved_model", "onnx"]


class ExportParams(Section):
    """The `export` section. `truncation` lists the rows of `truncation.png`: the
    same latents truncated at each threshold, in the order given; none (no file) by
    default, so the default export writes exactly the files it always did."""

    num_samples: Annotated[int, Field(gt=0, le=MAX_SAMPLES)] = 1000
    grid_size: GridSize = 10
    interpolation_steps: Annotated[
        int, Field(ge=MIN_INTERPOLATION_STEPS, le=MAX_INTERPOLATION_STEPS)
    ] = 10
    interpolation_rows: GridSize = 4
    truncation: Annotated[
        list[Truncation], Field(max_length=MAX_GRID_SIZE), AfterValidator(_distinct_thresholds)
    ] = []
    # The generator in serving formats, each checked against the Keras model (pipeline.formats).
    formats: Annotated[list[ExportFormat], AfterValidator(_each_once)] = [
        "saved_model",
        "onnx",
    ]


class MlflowParams(Section):
    experiment: ExperimentName = "gan-pipeline"


class Params(Section):
    """The whole `params.yaml`. Each name in `models` has a section of its own."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    seed: Seed = 42
    # More seeds to train and score every model with, beside `seed` (the `seeds` stage):
    # its report gives each metric's mean and standard deviation over all of them.
    seeds: Annotated[list[Seed], Field(max_length=MAX_SEEDS)] = []
    prepare: PrepareParams = PrepareParams()
    evaluator: EvaluatorParams = EvaluatorParams()
    models: Annotated[list[str], Field(min_length=1)] = ["gan"]
    evaluate: EvaluateParams = EvaluateParams()
    export: ExportParams = ExportParams()
    mlflow: MlflowParams = MlflowParams()

    def model(self, name: str) -> ModelSection:
        """The parameters of the model called `name` in `models`."""
        if name not in self.models:
            raise ParamsError(
                f"model {quote(name)} is not listed in models (listed: {self.models})"
            )
        return self.__pydantic_extra__[name]

    @model_validator(mode="after")
    def _seeds_differ(self) -> Params:
        for index, seed in enumerate(self.seeds):
            if seed == self.seed or seed in self.seeds[:index]:
                raise ValueError(
                    f"seeds: {seed} is listed twice or is `seed` itself (allowed: seeds other "
                    f"than {self.seed}, each once)"
                )
        return self

    @model_validator(mode="after")
    def _validate_model_sections(self) -> Params:
        # After the fields, so that a bad value in a known section is reported
        # before a stray key (an alias bomb's anchors, say) elsewhere in the file.
        extra = self.__pydantic_extra__
        assert extra is not None  # extra="allow" always sets it
        known = set(type(self).model_fields)
        _check_model_names(self.models, known)
        for name in self.models:
            if name not in extra:
                raise ValueError(f"{name}: section is missing (every name in models needs one)")
        # A section whose model is not listed (`dvc exp run -S 'models=[gan]'`)
        # is validated all the same, but not trained.
        for key, raw in extra.items():
            if isinstance(raw, ModelSection):
                continue
            if key not in self.models and not (isinstance(raw, dict) and "family" in raw):
                raise ValueError(
                    f"{label(key)}: unknown key (allowed: {', '.join(sorted(known))}, "
                    f"or a model section, which names its family)"
                )
            if key not in self.models:
                _check_model_names([key], known)
            section = section_class(raw)
            try:
                extra[key] = section.model_validate(raw)
            except ValidationError as err:
                raise ValueError(first_error(err, Params, section, prefix=(key,))) from None
        self._check_domains_prepared()
        return self

    def _check_domains_prepared(self) -> None:
        """Every domain a listed model reads is one `prepare` makes, paired where it
        learns from pairs."""
        prepared = self.prepare.domain_names()
        for name in self.models:
            section = self.model(name)
            read = section.domains_read()
            for key, domain in read.items():
                if domain not in prepared:
                    raise ValueError(
                        f"{name}.{key} = {domain!r}: not a prepared domain (prepared: "
                        f"{', '.join(prepared)}; add it to prepare.domains)"
                    )
            if not section.learns_from_pairs:
                continue
            unpaired = [d for d in read.values() if d not in self.prepare.paired_domains()]
            if unpaired:
                raise ValueError(
                    f"{name}.task: domain {unpaired[0]!r} does not pair up with the other one "
                    f"image for image, and {section.family} learns from pairs (paired here: "
                    f"{', '.join(sorted(self.prepare.paired_domains()))})"
                )


def _check_model_names(models: list[str], known: set[str]) -> None:
    """Reject a name that cannot be a section, a folder and a DVC stage key, or a repeat."""
    seen: set[str] = set()
    for name in models:
        valid = name.isidentifier() and len(name) <= MAX_NAME_CHARS and name not in known
        if not valid:
            raise ValueError(
                f"models: {quote(name)} is not a valid model name (allowed: "
                f"{MODEL_NAME_RULE}, not one of {sorted(known)})"
            )
        if name in seen:
            # Two runs would write the same trained/<name> outputs.
            raise ValueError(f"models: {name!r} is listed twice (allowed: each name once)")
        seen.add(name)


# --- reading and validating -------------------------------------------------------


def load_params(path: str | Path = DEFAULT_PARAMS_PATH) -> Params:
    """Read and validate `params.yaml`.

    Args:
        path: the YAML file to read.

    Returns:
        The validated, immutable parameters.

    Raises:
        ParamsError: one line naming the file, the key path, the value and
            what is allowed.
    """
    return parse_params(read_params_file(Path(path)), source=str(path))


def parse_params(raw: dict[str, Any], source: str = "params") -> Params:
    """Validate an already-parsed mapping; see `load_params`."""
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(f"{source}: {first_error(err, Params, ModelParams)}") from None


def flatten(params: BaseModel | dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested parameters to dotted keys, for MLflow's params table."""
    data = params.model_dump() if isinstance(params, BaseModel) else params
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, prefix=f"{dotted}."))
        else:
            flat[dotted] = value
    return flat
