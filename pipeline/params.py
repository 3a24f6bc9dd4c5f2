"""Typed schema for `params.yaml`.

Every stage reads its parameters through `load_params`, which validates the
whole file before any work starts. A mistake raises `ParamsError` with one
line naming the key path, the bad value and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from pipeline.errors import PipelineError

DEFAULT_PARAMS_PATH = Path("params.yaml")


def _yaml_float(value: Any) -> Any:
    # PyYAML reads `1e-3` (no dot) as a string; accept it as the number it means.
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


Float = Annotated[float, BeforeValidator(_yaml_float)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[Float, Field(gt=0)]
Fraction = Annotated[Float, Field(gt=0, lt=1)]
Rate = Annotated[Float, Field(ge=0, lt=1)]
NonNegativeFloat = Annotated[Float, Field(ge=0)]


class ParamsError(PipelineError):
    """`params.yaml` is missing, unreadable or does not match the schema."""


class Section(BaseModel):
    """Base for every section: unknown keys and silent coercions are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- prepare -----------------------------------------------------------------


class TfdsParams(Section):
    name: str = "mnist"
    data_dir: str | None = None
    download: bool = False


class IdxParams(Section):
    path: str = "data/raw/mnist"


class PrepareParams(Section):
    source: Literal["mnist5k", "tfds", "idx"] = "mnist5k"
    test_fraction: Fraction = 0.2
    shard_size: PositiveInt = 10_000
    tfds: TfdsParams = TfdsParams()
    idx: IdxParams = IdxParams()


# --- evaluator (the domain classifier) -----------------------------------------


class EvaluatorParams(Section):
    epochs: PositiveInt = 5
    batch_size: PositiveInt = 128
    learning_rate: PositiveFloat = 1e-3
    feature_dim: PositiveInt = 64


# --- models ------------------------------------------------------------------


class OptimizerParams(Section):
    name: Literal["adam", "sgd", "rmsprop"] = "adam"
    learning_rate: PositiveFloat = 2e-4
    beta_1: Rate = 0.5
    beta_2: Rate = 0.999
    momentum: Rate = 0.0


class NetworkParams(Section):
    kind: Literal["mlp", "dcgan"] = "mlp"
    latent_dim: PositiveInt = 100
    # mlp
    generator_units: Annotated[list[PositiveInt], Field(min_length=1)] = [256, 512]
    discriminator_units: Annotated[list[PositiveInt], Field(min_length=1)] = [512, 256]
    dropout: Rate = 0.3
    # dcgan: D has `filters`, 2 * `filters`, ... channels; G mirrors it
    filters: PositiveInt = 64
    discriminator_norm: Literal["batch", "layer", "none"] = "batch"
    # both
    leaky_relu_slope: Rate = 0.2


class TrainParams(Section):
    epochs: PositiveInt = 200
    batch_size: PositiveInt = 64
    d_steps: PositiveInt = 1
    d_optimizer: OptimizerParams = OptimizerParams()
    g_optimizer: OptimizerParams = OptimizerParams()
    grid_size: Annotated[int, Field(ge=1, le=32)] = 8
    strategy: Literal["auto", "default", "mirrored"] = "auto"
    # The seed material's stabilisers; 0 turns each off.
    l2_penalty: NonNegativeFloat = 0.0  # times the sum of squared kernel weights, both nets
    instance_noise: NonNegativeFloat = 0.0  # std of noise on D's inputs, annealed to 0
    label_smoothing: Rate = 0.0  # one-sided: D's target for real images is 1 - this
    generator_ema: Rate = 0.0  # momentum of an EMA of G's weights, used for eval/export
    # Quality tracked during training: the cheap metrics, every `eval_every` epochs (0: off).
    eval_every: NonNegativeInt = 10
    eval_samples: Annotated[int, Field(ge=2)] = 500


Family = Literal["gan", "cgan", "wgan", "wgan_gp"]

# What each family's paper uses, where it differs from the defaults above.
# A model section overrides any of it.
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "cgan": {"conditional": True},
    "wgan": {
        "train": {
            "d_steps": 5,
            "d_optimizer": {"name": "rmsprop", "learning_rate": 5e-5},
            "g_optimizer": {"name": "rmsprop", "learning_rate": 5e-5},
        },
    },
    "wgan_gp": {
        "network": {"discriminator_norm": "layer"},
        "train": {
            "d_steps": 5,
            "d_optimizer": {"name": "adam", "learning_rate": 1e-4, "beta_1": 0.0, "beta_2": 0.9},
            "g_optimizer": {"name": "adam", "learning_rate": 1e-4, "beta_1": 0.0, "beta_2": 0.9},
        },
    },
}


class ModelParams(Section):
    """One model's section. Keys it leaves out take its family's defaults."""

    family: Family = "gan"
    conditional: bool = False
    loss: Literal["minimax", "non_saturating"] = "non_saturating"  # gan, cgan
    clip_value: PositiveFloat = 0.01  # wgan: c
    gradient_penalty: PositiveFloat = 10.0  # wgan_gp: lambda
    network: NetworkParams = NetworkParams()
    train: TrainParams = TrainParams()

    @model_validator(mode="before")
    @classmethod
    def _apply_family_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("family") not in FAMILY_DEFAULTS:
            return data
        return _deep_merge(FAMILY_DEFAULTS[data["family"]], data)

    @model_validator(mode="after")
    def _check_family(self) -> ModelParams:
        if self.family == "cgan" and not self.conditional:
            raise ValueError("conditional = False: a cgan is conditional by definition")
        if self.family in ("wgan", "wgan_gp") and self.train.label_smoothing:
            raise ValueError(
                f"train.label_smoothing = {self.train.label_smoothing}: a critic has no "
                "labels to smooth (allowed: 0 for wgan and wgan_gp)"
            )
        if self.family == "wgan_gp" and self.network.discriminator_norm == "batch":
            raise ValueError(
                "network.discriminator_norm = 'batch': a gradient-penalty critic must not "
                "use BatchNorm (allowed: 'layer', 'none')"
            )
        return self


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = _deep_merge(base[key], value)
        else:
            merged[key] = value
    return merged


# --- evaluate, export, tracking ----------------------------------------------


class EvaluateParams(Section):
    num_samples: Annotated[int, Field(ge=2)] = 1000
    batch_size: PositiveInt = 256
    coverage_threshold: Fraction = 0.1
    kid_subsets: PositiveInt = 100
    kid_subset_size: Annotated[int, Field(ge=2)] = 500
    classifier_score_splits: PositiveInt = 10
    precision_recall_k: PositiveInt = 3
    density_coverage_k: PositiveInt = 5


class ExportParams(Section):
    num_samples: PositiveInt = 1000
    grid_size: Annotated[int, Field(ge=1, le=32)] = 10
    interpolation_steps: Annotated[int, Field(ge=2, le=64)] = 10
    interpolation_rows: Annotated[int, Field(ge=1, le=32)] = 4


class MlflowParams(Section):
    experiment: Annotated[str, Field(min_length=1)] = "gan-pipeline"


class Params(Section):
    """The whole `params.yaml`. Each name in `models` has a section of its own."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    seed: Annotated[int, Field(ge=0, lt=2**31)] = 42
    prepare: PrepareParams = PrepareParams()
    evaluator: EvaluatorParams = EvaluatorParams()
    models: Annotated[list[str], Field(min_length=1)] = ["gan"]
    evaluate: EvaluateParams = EvaluateParams()
    export: ExportParams = ExportParams()
    mlflow: MlflowParams = MlflowParams()

    @model_validator(mode="before")
    @classmethod
    def _parse_model_sections(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = set(cls.model_fields)
        models = data.get("models", ["gan"])
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            return data  # the field validator reports the type error
        for name in models:
            if name in known or not name.isidentifier():
                raise ValueError(
                    f"models: {name!r} is not a valid model name "
                    f"(identifiers only, not one of {sorted(known)})"
                )
        strays = [k for k in data if k not in known and k not in models]
        if strays:
            raise ValueError(
                f"{strays[0]}: unknown key (allowed: {', '.join(sorted(known))}, "
                f"or a section for a model listed in models)"
            )
        return data

    def model(self, name: str) -> ModelParams:
        """The parameters of the model called `name` in `models`."""
        if name not in self.models:
            raise ParamsError(f"model {name!r} is not listed in models (listed: {self.models})")
        return self.__pydantic_extra__[name]

    @model_validator(mode="after")
    def _validate_model_sections(self) -> Params:
        extra = self.__pydantic_extra__
        assert extra is not None  # extra="allow" always sets it
        for name in self.models:
            if name not in extra:
                raise ValueError(f"{name}: section is missing (every name in models needs one)")
            raw = extra[name]
            if isinstance(raw, ModelParams):
                continue
            try:
                extra[name] = ModelParams.model_validate(raw)
            except ValidationError as err:
                raise ValueError(_first_error(err, prefix=(name,))) from None
        return self


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
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ParamsError(f"{path}: not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    return parse_params(raw, source=str(path))


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


def _first_error(err: ValidationError, prefix: tuple[str, ...] = ()) -> str:
    """One line for the first schema violation: key path, bad value, what is allowed."""
    first = err.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in (*prefix, *first["loc"]))
    kind, message = first["type"], first["msg"]
    if kind == "value_error":
        # Raised by our validators, which name the key within their section.
        message = message.removeprefix("Value error, ")
        return f"{loc}.{message}" if loc else message
    if kind == "extra_forbidden":
        allowed = _allowed_keys((*prefix, *first["loc"][:-1]))
        return f"{loc}: unknown key (allowed: {', '.join(allowed)})"
    if kind == "missing":
        return f"{loc}: required key is missing"
    return f"{loc} = {first.get('input')!r}: {message}"


def _allowed_keys(parent: tuple[str | int, ...]) -> list[str]:
    """The keys the schema accepts under `parent`, a key path from the root."""
    section: type[BaseModel] = Params
    for key in parent:
        field = section.model_fields.get(str(key))
        annotation = field.annotation if field else ModelParams
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            break
        section = annotation
    return sorted(section.model_fields)
