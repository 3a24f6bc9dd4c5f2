"""Network kinds: a generator and a discriminator each, one file each, named here.

To add one: write `pipeline/models/networks/<kind>.py` with a subclass of
`Network` (or of `SelfAttentionOption`, for a convolutional kind that offers
self-attention) that declares its settings and builds both networks through
the conditioning's hooks, and add it to `NETWORKS` below. A model's
`network` section then accepts `{kind: <kind>, ...settings}`.
"""

from __future__ import annotations

from pipeline.models.networks.base import Network, unwrapped
from pipeline.models.networks.dcgan import DCGAN, dcgan_start_size
from pipeline.models.networks.mlp import MLP
from pipeline.models.networks.progan import ProGAN
from pipeline.models.networks.resnet import ResNet
from pipeline.models.networks.stylegan import StyleGAN
from pipeline.schema import tagged_union

NETWORKS: dict[str, type[Network]] = {
    "mlp": MLP,
    "dcgan": DCGAN,
    "resnet": ResNet,
    "progan": ProGAN,
    "stylegan": StyleGAN,
}

# A model's `network` section: one of the kinds above, picked by `kind`.
NetworkSettings = tagged_union(NETWORKS, "kind")

__all__ = [
    "DCGAN",
    "MLP",
    "NETWORKS",
    "Network",
    "NetworkSettings",
    "ProGAN",
    "ResNet",
    "StyleGAN",
    "dcgan_start_size",
    "unwrapped",
]
