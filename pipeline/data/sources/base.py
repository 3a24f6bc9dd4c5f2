"""What a data source is: the settings that locate an image dataset, and its reader.

A source is also its own settings: a `Section` of the params schema, told
apart from the other sources by `kind` (`prepare: {source: {kind: idx,
path: ...}}` in params.yaml).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pipeline.schema import Section

if TYPE_CHECKING:  # only a type here: each source builds its own RawData
    from pipeline.data.raw import RawData


class DataSource(Section):
    """An image dataset that `prepare` reads whole, then splits with the seed.

    Labelled, or one class for a folder of a user's own images. A source
    may hand over a split of its own and a second image domain (see
    `RawData.split` and `RawData.domains`).

    Importing a source must stay cheap, because the params schema is built
    from the sources' settings: a reader that needs a heavy library
    (tensorflow_datasets, mlxtend) imports it inside `read`.

    Attributes:
        kind: the source's name in `SOURCES`, which picks it in params.yaml.

    Class attributes:
        second_domains: the domains it hands over besides its images (`A`),
            each with whether it pairs with them image for image; what the
            params schema checks a translation model's task against.
        gives_points: its examples are points (coordinates), not images, so
            no image domain can be derived from them.
    """

    kind: str  # each source narrows it to its own registry name

    second_domains: ClassVar[dict[str, bool]] = {}
    gives_points: ClassVar[bool] = False

    def read(self, scratch: Path) -> RawData:
        """The whole source, its own splits pooled (unless it keeps them), as `RawData`.

        Args:
            scratch: an empty directory for decompressed or streamed data,
                which the caller deletes once the shards are written.

        Raises:
            PipelineError: one line naming the setting or file at fault.
        """
        raise NotImplementedError
