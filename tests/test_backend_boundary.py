"""Backend code stays in pipeline/backend/: no other module imports TensorFlow or JAX.

Two exceptions, outside any training: the TFDS source, which reads a
TensorFlow Datasets dataset while `prepare` runs, and the export's serving
formats, which load the TensorFlow SavedModel they wrote back through its
serving signature, as TensorFlow Serving would (`pipeline/formats.py`).
The imports are read from the code, anywhere in a file, functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import REPO_ROOT

ALLOWED = {
    "tensorflow": {
        "pipeline/backend/tensorflow.py",
        "pipeline/data/sources/tfds.py",
        "pipeline/formats.py",
    },
    "jax": {"pipeline/backend/jax.py"},
}
LIBRARY = sorted((REPO_ROOT / "pipeline").rglob("*.py"))


def imported_roots(path: Path) -> set[str]:
    """The top-level names of every package a file imports (tensorflow_datasets counts as tf)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return {"tensorflow" if root == "tensorflow_datasets" else root for root in roots}


@pytest.mark.parametrize("library", sorted(ALLOWED))
def test_only_the_backend_package_imports_a_backend(library):
    importers = {
        str(path.relative_to(REPO_ROOT)) for path in LIBRARY if library in imported_roots(path)
    }
    assert importers <= ALLOWED[library], sorted(importers - ALLOWED[library])
    assert importers, f"nothing imports {library}: the test reads the wrong files"
