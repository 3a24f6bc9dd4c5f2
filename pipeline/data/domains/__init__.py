"""Derived domains: second image domains computed from the prepared images, one file each.

`prepare: {domains: [edges, masked]}` stores, beside the base images (domain
`A`), each listed domain under `data/prepared/domains/<name>/`, record for
record paired with the base. To add one: write
`pipeline/data/domains/<name>.py` with its `transform` (and its
`output_shape` or `extra` if they differ from the defaults) and add it to
`DOMAINS` below; the params schema takes its names from here.

Importing this package stays cheap (the schema imports it): a transform that
needs a heavy library imports it inside the function.
"""

from __future__ import annotations

from pipeline.data.domains import colour, edges, low_res, masked, negative
from pipeline.data.domains.base import Domain, grey_shape, same_shape

DOMAINS: dict[str, Domain] = {
    "edges": Domain(edges.transform, grey_shape),
    "negative": Domain(negative.transform, same_shape),
    "colour": Domain(colour.transform, colour.output_shape),
    "low_res": Domain(low_res.transform, low_res.output_shape),
    "masked": Domain(masked.transform, same_shape, masked.extra),
}

__all__ = ["DOMAINS", "Domain"]
