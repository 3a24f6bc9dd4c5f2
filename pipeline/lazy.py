"""Keras modules imported on first use.

The model parts (losses, regularisers, conditioning, networks) each declare
their settings in the same file as their math, and the params schema is built
from those settings. Loading Keras (and with it TensorFlow) takes seconds,
validating params.yaml a fraction of one: so the parts reach Keras through
these stand-ins, which import the real module the first time an attribute is
read (`ops.mean(...)` inside a train step, `layers.Dense(...)` while a
network is built), never while the schema is checked.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands in for the module `name`; imports it when an attribute is first read."""

    def __init__(self, name: str):
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


keras = LazyModule("keras")
ops = LazyModule("keras.ops")
layers = LazyModule("keras.layers")
random = LazyModule("keras.random")
