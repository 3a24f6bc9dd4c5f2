"""Run a module with TensorFlow unimportable: `python tests/no_tensorflow.py MODULE ARGS...`.

Any import of TensorFlow, by the project or by a library it calls, fails
with an ImportError naming it; a process that finishes never loaded it.
"""

from __future__ import annotations

import runpy
import sys


class RefuseTensorFlow:
    """A meta-path finder that fails every import of tensorflow (and its submodules)."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError(f"{name} imported in a process that must not load TensorFlow")
        return None


if __name__ == "__main__":
    sys.meta_path.insert(0, RefuseTensorFlow())
    module, *arguments = sys.argv[1:]
    sys.argv = [module.replace(".", "/") + ".py", *arguments]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
