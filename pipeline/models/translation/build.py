"""The one place that turns a translation model's params section into networks and a model."""

from __future__ import annotations

# The networks' code runs here, through the objects the schema made of params.yaml
# (`params.generator.build`): importing their package says so, and makes it a
# dependency of every stage that builds a model (tests/test_dependencies.py).
from pipeline.models.networks.base import unwrapped
from pipeline.models.translation import networks  # noqa: F401
from pipeline.models.translation.cycle import CycleTranslation
from pipeline.models.translation.paired import PairedTranslation
from pipeline.models.translation.reconstruction import NO_CONTEXT, TermContext
from pipeline.models.translation.settings import PairedTranslationParams
from pipeline.models.translation.unpaired_settings import UnpairedTranslationParams


def build_paired_translation(
    params: PairedTranslationParams,
    input_shape: tuple[int, int, int],
    target_shape: tuple[int, int, int],
    context: TermContext = NO_CONTEXT,
) -> PairedTranslation:
    """The model `params` describes, with its networks built for these image shapes.

    Args:
        params: the model's params section.
        input_shape: (H, W, C) of `task.input`'s images.
        target_shape: (H, W, C) of `task.target`'s images (what G outputs).
        context: what the reconstruction term needs (the hole, the evaluator).
    """
    generator = params.generator.build(tuple(input_shape), tuple(target_shape))
    condition = tuple(input_shape) if params.discriminator_sees_input else None
    discriminator = params.discriminator.build(tuple(target_shape), condition, unwrapped)
    return PairedTranslation(
        generator=generator,
        discriminator=discriminator,
        loss=params.loss,
        reconstruction=params.reconstruction,
        context=context,
        adversarial_weight=params.adversarial_weight,
        conditional_discriminator=params.discriminator_sees_input,
    )


def build_unpaired_translation(
    params: UnpairedTranslationParams,
    input_shape: tuple[int, int, int],
    target_shape: tuple[int, int, int],
    seed: int,
) -> CycleTranslation:
    """The CycleGAN model `params` describes: two generators and two discriminators.

    Args:
        params: the model's params section.
        input_shape: (H, W, C) of `task.input`'s images (domain A of the paper).
        target_shape: (H, W, C) of `task.target`'s images (domain B).
        seed: seeds the history pools' draws.
    """
    input_shape, target_shape = tuple(input_shape), tuple(target_shape)
    return CycleTranslation(
        generator=params.generator.build(input_shape, target_shape),
        inverse_generator=params.generator.build(target_shape, input_shape, "inverse_generator"),
        discriminator=params.discriminator.build(target_shape, None, unwrapped),
        inverse_discriminator=params.discriminator.build(
            input_shape, None, unwrapped, "inverse_discriminator"
        ),
        loss=params.loss,
        cycle_weight=params.cycle_weight,
        identity_weight=params.identity_weight,
        pool_size=params.pool_size,
        seed=seed,
    )
