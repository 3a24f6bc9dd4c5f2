"""What training tracks of an unpaired translation (CycleGAN): its cheap scores.

Apart from `pipeline.evaluation.unpaired`, which trains a classifier, so
that training depends on none of that.
"""

from __future__ import annotations

from pathlib import Path

import keras

from pipeline.data.unpaired import held_out_images
from pipeline.evaluation.evaluate import Scorer
from pipeline.evaluation.translation_suite import Translated, translation_scores
from pipeline.sampling import translate


def unpaired_scorer(
    data_dir: str | Path,
    source: str,
    target: str,
    num_samples: int,
    inverse: keras.Model | None,
    paired: bool,
    batch_size: int = 256,
) -> Scorer:
    """The cheap metrics during training: the cycle error of the first `num_samples` test
    inputs (by `inverse`, G_BA, as it is now), and L1 and PSNR to the true targets when
    the domains pair up (`paired`). The inputs are read once, here."""
    inputs = held_out_images(data_dir, source, num_samples)
    targets = held_out_images(data_dir, target, num_samples) if paired else None

    def score(generator: keras.Model) -> dict[str, float]:
        outputs = translate(generator, inputs, batch_size=batch_size)
        cycled = None if inverse is None else translate(inverse, outputs, batch_size=batch_size)
        translated = Translated(outputs, targets, inputs=inputs, cycled=cycled)
        return translation_scores(translated, cheap_only=True)

    return score
