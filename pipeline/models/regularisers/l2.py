"""An L2 weight penalty on both networks (the seed material's weight decay)."""

from __future__ import annotations

from pipeline.lazy import ops
from pipeline.models.regularisers.base import Regulariser
from pipeline.schema import PositiveFloat


class L2(Regulariser):
    """`weight` times the sum of a network's squared kernel weights, added to its loss.

    Only kernels (weights of rank 2 or more) count: biases and norm scales
    are left free, as usual.

    Args:
        weight: the penalty's coefficient.
    """

    weight: PositiveFloat

    def network_penalty(self, network):
        kernels = [w for w in network.trainable_variables if len(w.shape) > 1]
        return self.weight * ops.sum(ops.stack([ops.sum(ops.square(w)) for w in kernels]))
