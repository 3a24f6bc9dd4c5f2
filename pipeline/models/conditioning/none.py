"""No conditioning: the networks never see a label."""

from __future__ import annotations

from typing import ClassVar, Literal

from pipeline.models.conditioning.base import Conditioning


class Unconditional(Conditioning):
    """An unconditional GAN: G maps z to an image, D scores an image.

    The base hooks already describe it (z in, image in, one linear score out);
    a labelled data set's labels are simply not used.
    """

    kind: Literal["none"] = "none"

    conditional: ClassVar[bool] = False
    discriminator_takes_label: ClassVar[bool] = False
