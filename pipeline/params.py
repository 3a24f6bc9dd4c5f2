"""Typed schema for `params.yaml`, and what each stage reads of it.

Every stage reads its parameters through `load_params`, which validates the
whole file before any work starts. A mistake raises `ParamsError` with one
line naming the key path, the bad value and what is allowed. A stage then
takes only its own values (`stage_params`), the ones the `params` stage
writes to resolved/ for DVC to track.
"""

from __future__ import annotations

import codecs
import json
import re
import reprlib
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args

import yaml
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
from pipeline.errors import PipelineError
from pipeline.fileio import atomic_dir
from pipeline.models.conditioning import ConditioningSettings
from pipeline.models.coupled_settings import COUPLED_FAMILIES, CoupledParams
from pipeline.models.losses import LossSettings
from pipeline.models.networks import NetworkSettings
from pipeline.models.presets import PRESETS, TAGS, with_preset
from pipeline.models.regularisers import Regularisers
from pipeline.models.translation.settings import TRANSLATION_FAMILIES, PairedTranslationParams
from pipeline.models.translation.unpaired_settings import (
    UNPAIRED_FAMILIES,
    UnpairedTranslationParams,
)
from pipeline.models.unrolling import Unrolling, unrolling_conflict
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
# A value quoted in an error is cut to this many characters, so that a huge
# value (an alias bomb expands to megabytes) still gives one short line.
MAX_QUOTED_CHARS = 60
# The parser's own description of a YAML syntax error, cut likewise.
MAX_PROBLEM_CHARS = 160
# UTF-16 text that is mostly ASCII has a NUL beside every character; UTF-8 YAML
# has none. At least this share of NUL bytes means the file is UTF-16.
UTF16_NUL_SHARE = 0.25

EXPERIMENT_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_NAME_CHARS - 1}}}")
EXPERIMENT_RULE = (
    f"must be a name, not a path: letters, digits, '_', '-', '.', starting with a "
    f"letter or digit, at most {MAX_NAME_CHARS} characters, no '..'"
)
MODEL_NAME_RULE = f"identifiers of at most {MAX_NAME_CHARS} characters"

# A byte-order mark that says the file is not UTF-8. UTF-32's marks come first:
# UTF-32-LE's begins with UTF-16-LE's.
WIDE_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
YAML_MERGE_TAG = "tag:yaml.org,2002:merge"


def _experiment_name(value: str) -> str:
    # The local store keeps artifacts under a folder named after the experiment:
    # a path (`../x`, `/tmp/x`) would write them outside the repository.
    if EXPERIMENT_NAME.fullmatch(value) and ".." not in value:
        return value
    raise PydanticCustomError("experiment_name", EXPERIMENT_RULE)


ExperimentName = Annotated[str, AfterValidator(_experiment_name)]


class ParamsError(PipelineError):
    """`params.yaml` is missing, unreadable or does not match the schema."""


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
                f"model {_quote(name)} is not listed in models (listed: {self.models})"
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
                    f"{_label(key)}: unknown key (allowed: {', '.join(sorted(known))}, "
                    f"or a model section, which names its family)"
                )
            if key not in self.models:
                _check_model_names([key], known)
            section = section_class(raw)
            try:
                extra[key] = section.model_validate(raw)
            except ValidationError as err:
                raise ValueError(_first_error(err, prefix=(key,), model_section=section)) from None
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
                f"models: {_quote(name)} is not a valid model name (allowed: "
                f"{MODEL_NAME_RULE}, not one of {sorted(known)})"
            )
        if name in seen:
            # Two runs would write the same trained/<name> outputs.
            raise ValueError(f"models: {name!r} is listed twice (allowed: each name once)")
        seen.add(name)


# --- what each stage reads ----------------------------------------------------------
#
# A stage never reads the whole file: it gets one of these, its values with
# every default filled in. The `params` stage writes each to resolved/, and
# dvc.yaml makes the stage depend on that file, so a stage re-runs exactly
# when a value it reads changes, whether in params.yaml or in a default here.


class PrepareStage(Section):
    seed: Seed
    prepare: PrepareParams


class EvaluatorStage(Section):
    seed: Seed
    evaluator: EvaluatorParams


class TrainStage(Section):
    seed: Seed
    experiment: ExperimentName  # the MLflow experiment its run goes to
    model: ModelSection


class EvaluateStage(Section):
    seed: Seed
    evaluate: EvaluateParams
    # How an unpaired translation's evaluation trains its target domain's classifier.
    evaluator: EvaluatorParams


class ExportStage(Section):
    seed: Seed
    export: ExportParams


class SeedsStage(Section):
    """The `seeds` stage trains and scores a model again with each of `seeds`."""

    seed: Seed  # the training's own, whose scores join the others'
    seeds: list[Seed]
    train: TrainStage
    evaluate: EvaluateStage


class ReportStage(Section):
    models: list[str]


StageParams = (
    PrepareStage
    | EvaluatorStage
    | TrainStage
    | EvaluateStage
    | ExportStage
    | SeedsStage
    | ReportStage
)
# The stages that run once per name in `models`.
MODEL_STAGES = ("train", "evaluate", "export", "seeds")


def stage_params(params: Params, stage: str, model: str | None = None) -> StageParams:
    """The values stage `stage` (for `model`, if it runs per model) reads.

    Raises:
        ParamsError: an unknown stage, or a model not listed in `models`.
    """
    if (stage in MODEL_STAGES) != (model is not None):
        raise ParamsError(
            f"stage {stage!r}: a model name is {'needed' if model is None else 'not taken'}"
        )
    if model is not None:
        params.model(model)  # raises unless listed
    seed = params.seed
    if stage == "prepare":
        return PrepareStage(seed=seed, prepare=params.prepare)
    if stage == "evaluator":
        return EvaluatorStage(seed=seed, evaluator=params.evaluator)
    if stage == "train":
        return TrainStage(seed=seed, experiment=params.mlflow.experiment, model=params.model(model))
    if stage == "evaluate":
        return EvaluateStage(seed=seed, evaluate=params.evaluate, evaluator=params.evaluator)
    if stage == "export":
        return ExportStage(seed=seed, export=params.export)
    if stage == "seeds":
        train = stage_params(params, "train", model)
        evaluate = stage_params(params, "evaluate", model)
        return SeedsStage(seed=seed, seeds=params.seeds, train=train, evaluate=evaluate)
    if stage == "report":
        return ReportStage(models=params.models)
    raise ParamsError(f"unknown stage {stage!r}")


def resolved_files(params: Params) -> dict[str, StageParams]:
    """Every stage's values, keyed by their file under resolved/ (as named in dvc.yaml)."""
    files: dict[str, StageParams] = {
        f"{stage}.json": stage_params(params, stage) for stage in ("prepare", "evaluator", "report")
    }
    for stage in ("evaluate", "export"):  # the same for every model
        files[f"{stage}.json"] = stage_params(params, stage, params.models[0])
    for name in params.models:
        files[f"train/{name}.json"] = stage_params(params, "train", name)
        files[f"seeds/{name}.json"] = stage_params(params, "seeds", name)
    return files


def write_resolved(params: Params, out_dir: str | Path) -> list[Path]:
    """Write `resolved_files` as sorted JSON into `out_dir`, replacing it in one step.

    The bytes depend on the values alone, so an unchanged stage keeps an
    unchanged file and DVC does not re-run it.

    Returns:
        The files written, relative to `out_dir`.
    """
    files = resolved_files(params)
    with atomic_dir(out_dir) as tmp:
        for relative, values in files.items():
            path = tmp / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                json.dumps(values.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
            )
    return [Path(relative) for relative in files]


# --- reading the file ------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key repeated in one mapping is an error.

    PyYAML keeps the last of two equal keys; DVC refuses the file. Refusing it
    here too means a second `gan:` section cannot silently replace the first.
    """

    def compose_mapping_node(self, anchor: str | None) -> yaml.MappingNode:
        # Checked as each mapping is composed, before merge keys (`<<: *base`) are
        # expanded, so a key that overrides a merged one is not a duplicate.
        node = super().compose_mapping_node(anchor)
        _reject_duplicate_keys(node)
        return node

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        # PyYAML copies every merged pair, repeats included, so `<<: [*a, *a, ...]`
        # nested a few levels deep grows nine-fold per level (a merge-key alias
        # bomb). Keeping only the pair that wins for each key keeps it linear and
        # changes no result.
        super().flatten_mapping(node)
        node.value = self._winning_pairs(node.value)

    def _winning_pairs(
        self, pairs: list[tuple[yaml.Node, yaml.Node]]
    ) -> list[tuple[yaml.Node, yaml.Node]]:
        """`pairs` as the dict built from them sees them: one per key, in first place,
        with the last value."""
        winners: dict[Any, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in pairs:
            # Scalar keys compare as the values they construct to, as in the dict;
            # other keys are refused by the constructor, so any stand-in will do.
            scalar = isinstance(key_node, yaml.ScalarNode)
            key = self.construct_object(key_node) if scalar else key_node
            first = winners[key][0] if key in winners else key_node
            winners[key] = (first, value_node)
        return list(winners.values())


def _scalar_key(node: yaml.Node) -> tuple[str, str] | None:
    """What makes two scalar keys equal (tag and text); None for other keys."""
    if not isinstance(node, yaml.ScalarNode) or node.tag == YAML_MERGE_TAG:
        return None  # a sequence or mapping key is refused by the constructor anyway
    return (node.tag, node.value)


def _reject_duplicate_keys(node: yaml.MappingNode) -> None:
    """Raise a YAML error naming a key given twice in `node` and both its lines."""
    first_line: dict[tuple[str, str], int] = {}
    for key_node, _ in node.value:
        key = _scalar_key(key_node)
        if key is None:
            continue
        line = key_node.start_mark.line + 1
        if key in first_line:
            raise yaml.constructor.ConstructorError(
                problem=(
                    f"key {_quote(key_node.value)} appears twice, at lines {first_line[key]} "
                    f"and {line} (allowed: each key once per mapping; DVC rejects it too)"
                ),
                problem_mark=key_node.start_mark,
            )
        first_line[key] = line


MAX_PARAMS_BYTES = 1_000_000


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
    path = Path(path)
    raw = _parse_yaml(_read_text(path), path) or {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    return parse_params(raw, source=str(path))


def _read_text(path: Path) -> str:
    """The file's text, decoded strictly as UTF-8 (what DVC and PyYAML expect)."""
    try:
        size = path.stat().st_size
        if size > MAX_PARAMS_BYTES:
            # Refused unread: parsing and validating megabytes takes minutes and gigabytes.
            raise ParamsError(
                f"{path}: is {size:,} bytes (allowed: up to {MAX_PARAMS_BYTES:,}; the shipped "
                "one is a few thousand)"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ParamsError(f"{path}: is a directory (allowed: a YAML file)") from None
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ParamsError(f"{path}: cannot be read ({reason})") from None
    wide = _wide_encoding(data)
    if wide:
        raise ParamsError(f"{path}: encoded as {wide} (allowed: UTF-8); save it as UTF-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ParamsError(
            f"{path}: not UTF-8 (byte 0x{data[err.start]:02x} on line {line}; perhaps "
            "Latin-1); save it as UTF-8"
        ) from None


def _wide_encoding(data: bytes) -> str | None:
    """`data`'s encoding when it is UTF-16 or UTF-32, which UTF-8 decoding would garble."""
    for bom, name in WIDE_BOMS:
        if data.startswith(bom):
            return f"{name} with a byte-order mark"
    if data and data.count(0) >= UTF16_NUL_SHARE * len(data):
        return "UTF-16 without a byte-order mark"
    return None


def _parse_yaml(text: str, path: Path) -> Any:
    """The YAML document in `text`, or a one-line `ParamsError` saying where it breaks."""
    try:
        # yaml.load with a SafeLoader subclass: as safe as yaml.safe_load.
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML{_yaml_problem(err, text)}") from None
    except RecursionError:
        raise ParamsError(f"{path}: not valid YAML: nested too deeply") from None
    except ValueError as err:
        # PyYAML's constructors let these through: an integer of more than 4,300
        # digits, a date such as 2024-13-01.
        raise ParamsError(f"{path}: not valid YAML: {_one_line(str(err))}") from None


def _yaml_problem(err: yaml.YAMLError, text: str) -> str:
    """Where and why PyYAML stopped, as ` at line N: problem`."""
    if isinstance(err, yaml.reader.ReaderError):
        # A control character: the reader knows its offset, not its line.
        line = text.count("\n", 0, err.position) + 1
        return f" at line {line}: character #x{err.character:04x}: {_one_line(err.reason)}"
    mark = getattr(err, "problem_mark", None)
    where = f" at line {mark.line + 1}" if mark else ""
    problem = getattr(err, "problem", None)
    return f"{where}: {_one_line(problem)}" if problem else where


def parse_params(raw: dict[str, Any], source: str = "params") -> Params:
    """Validate an already-parsed mapping; see `load_params`."""
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(f"{source}: {_first_error(err)}") from None


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


# --- one-line messages -----------------------------------------------------------


def _first_error(
    err: ValidationError,
    prefix: tuple[str, ...] = (),
    model_section: type[BaseModel] = ModelParams,
) -> str:
    """One line for the first schema violation: key path, bad value, what is allowed.

    `model_section` is the class a model section's keys are checked against
    (a translation model's differs from a noise-to-image model's).
    """
    first = err.errors(include_url=False)[0]
    where = _SchemaPath.walk((*prefix, *first["loc"]), model_section)
    loc, kind, message = where.dotted, first["type"], first["msg"]
    if kind == "value_error":
        # Raised by our validators, which name the key within their section.
        message = message.removeprefix("Value error, ")
        return f"{loc}.{message}" if loc else message
    if kind == "extra_forbidden":
        allowed = ", ".join(where.allowed_keys())
        if where.variant:
            return f"{loc}: does not apply when {where.variant} (allowed: {allowed})"
        return f"{loc}: unknown key (allowed: {allowed})"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        # A part's name that no registry holds, or a part without one.
        ctx = first.get("ctx", {})
        tag = ctx.get("discriminator", "").strip("'")
        # Read from the schema: pydantic lists no tags when the tag is missing.
        allowed = ", ".join(where.variants) or ctx.get("expected_tags", "").replace("'", "")
        if kind == "union_tag_not_found":
            return f"{loc}.{tag}: required key is missing (allowed: {allowed})"
        return f"{loc}.{tag} = {_quote(ctx.get('tag'))}: unknown (allowed: {allowed})"
    if kind == "model_attributes_type" and where.variants:
        # A part given as a bare value (`source: tfds`, the form before sources
        # had settings of their own) instead of a mapping that names it.
        tag, example = where.variant_tag, where.variants[0]
        if isinstance(first.get("input"), str) and first["input"] in where.variants:
            example = first["input"]
        return (
            f"{loc} = {_quote(first.get('input'))}: expected a mapping with its {tag}, "
            f"e.g. {{{tag}: {example}}} (allowed: {', '.join(where.variants)})"
        )
    if kind == "missing":
        return f"{loc}: required key is missing"
    return f"{loc} = {_quote(first.get('input'))}: {message}"


class _SchemaPath:
    """An error's key path, walked through the schema: what to show, and where it ends.

    Pydantic puts a part's tag into the path (`loss.hinge.label_smoothing`
    for `loss: {name: hinge, label_smoothing: ...}`); the walk drops it from
    what is shown and remembers it, to say which variant the key was given to.
    """

    def __init__(self, model_section: type[BaseModel] = ModelParams) -> None:
        self.shown: list[str | int] = []
        self.section: type[BaseModel] | None = Params
        self.model_section = model_section
        self.variant: str | None = None
        # Where the path ends on a slot of parts (`loss`, `prepare.source`): the
        # key that names a part, and the names its registry holds.
        self.variant_tag: str | None = None
        self.variants: list[str] = []
        # The section the last shown key was looked up in.
        self.parent: type[BaseModel] | None = None

    @classmethod
    def walk(
        cls, path: tuple[str | int, ...], model_section: type[BaseModel] = ModelParams
    ) -> _SchemaPath:
        where = cls(model_section)
        parts = list(path)
        while parts:
            key = parts.pop(0)
            where.shown.append(key)
            where.parent = where.section
            annotation = where._annotation(key)
            members = _tagged_members(annotation)
            if members and parts and parts[0] in members:
                tag = parts.pop(0)
                where.variant = f"{where.dotted}.{members[tag][0]} is {tag!r}"
                annotation = members[tag][1]
                members = {}  # past the slot: inside the part it names
            where.section = _model_class(annotation)
            where.variants = [str(name) for name in members]
            where.variant_tag = next((tag_key for tag_key, _ in members.values()), None)
        return where

    def _annotation(self, key: str | int) -> Any:
        if self.section is None:
            return None
        field = self.section.model_fields.get(str(key))
        if field is None:
            # Any other top-level key is a model section.
            return self.model_section if self.section is Params else None
        return field.annotation

    @property
    def dotted(self) -> str:
        return ".".join(_label(part) for part in self.shown)

    def allowed_keys(self) -> list[str]:
        """The keys accepted beside the last one: its section's fields."""
        return sorted(self.parent.model_fields) if self.parent else []


def _model_class(annotation: Any) -> type[BaseModel] | None:
    """The section class `annotation` names, `X | None` unwrapped; None for a plain value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    present = [arg for arg in get_args(annotation) if arg is not type(None)]
    if len(present) == 1:
        return _model_class(present[0])
    return None


def _tagged_members(annotation: Any) -> dict[Any, tuple[str, type[BaseModel]]]:
    """For a union of parts: each member by its tag value, with the tag's key."""
    members: dict[Any, tuple[str, type[BaseModel]]] = {}
    for member in get_args(annotation):
        if not (isinstance(member, type) and issubclass(member, BaseModel)):
            continue
        for key in TAGS:
            field = member.model_fields.get(key)
            if field is not None and get_args(field.annotation):
                members[get_args(field.annotation)[0]] = (key, member)
    return members


def _short_repr() -> reprlib.Repr:
    # reprlib stops after a few items and levels, so quoting an alias bomb costs
    # microseconds; plain repr() would build the whole expansion first.
    short = reprlib.Repr()
    short.maxlevel = 2
    short.maxlist = short.maxtuple = short.maxdict = short.maxset = 4
    short.maxstring = short.maxother = short.maxlong = MAX_QUOTED_CHARS
    return short


_SHORT_REPR = _short_repr()


def _quote(value: Any) -> str:
    """`repr(value)` cut to MAX_QUOTED_CHARS, so every quoted value keeps the line short."""
    try:
        text = _SHORT_REPR.repr(value)
    except ValueError:
        # repr() of an integer of more than 4,300 digits raises.
        text = f"<{type(value).__name__}>"
    return _cut(text, MAX_QUOTED_CHARS)


def _label(part: Any) -> str:
    """A key as written, or quoted when it is not a short one-line string."""
    if isinstance(part, str) and part.isprintable() and len(part) <= MAX_QUOTED_CHARS:
        return part
    return _quote(part)


def _one_line(text: str) -> str:
    """`text` with its whitespace runs (newlines included) collapsed, cut short."""
    return _cut(" ".join(text.split()), MAX_PROBLEM_CHARS)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
