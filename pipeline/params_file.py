"""Reading `params.yaml`: its bytes strictly as UTF-8, its text strictly as YAML.

Strictly, because a file PyYAML would read leniently (a key given twice, a
Latin-1 byte) can mean something other than what its author sees, and
DVC, which reads the same file, refuses some of it. Each refusal is one
`ParamsError` line naming the file, the line and what is allowed.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import PipelineError
from pipeline.params_messages import one_line, quote

# The shipped file is a few thousand bytes.
MAX_PARAMS_BYTES = 1_000_000
# UTF-16 text that is mostly ASCII has a NUL beside every character; UTF-8 YAML
# has none. At least this share of NUL bytes means the file is UTF-16.
UTF16_NUL_SHARE = 0.25
# A byte-order mark that says the file is not UTF-8. UTF-32's marks come first:
# UTF-32-LE's begins with UTF-16-LE's.
WIDE_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
YAML_MERGE_TAG = "tag:yaml.org,2002:merge"


class ParamsError(PipelineError):
    """`params.yaml` is missing, unreadable or does not match the schema (pipeline/params.py)."""


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key repeated in one mapping is an error.

    PyYAML keeps the last of two equal keys; DVC refuses the file. Refusing it
    here too means a second `gan:` section cannot silently replace the first.
    """

    def compose_mapping_node(self, anchor: str | None) -> yaml.MappingNode:
        # Checked as each mapping is composed, before merge keys (`<<: *base`) are
        # expanded, so a key that overrides a merged one is not a duplicate.
        node = super().compose_mapping_node(anchor)
        _reject_duplicate_keys(node)
        return node

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        # PyYAML copies every merged pair, repeats included, so `<<: [*a, *a, ...]`
        # nested a few levels deep grows nine-fold per level (a merge-key alias
        # bomb). Keeping only the pair that wins for each key keeps it linear and
        # changes no result.
        super().flatten_mapping(node)
        node.value = self._winning_pairs(node.value)

    def _winning_pairs(
        self, pairs: list[tuple[yaml.Node, yaml.Node]]
    ) -> list[tuple[yaml.Node, yaml.Node]]:
        """`pairs` as the dict built from them sees them: one per key, in first place,
        with the last value."""
        winners: dict[Any, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in pairs:
            # Scalar keys compare as the values they construct to, as in the dict;
            # other keys are refused by the constructor, so any stand-in will do.
            scalar = isinstance(key_node, yaml.ScalarNode)
            key = self.construct_object(key_node) if scalar else key_node
            first = winners[key][0] if key in winners else key_node
            winners[key] = (first, value_node)
        return list(winners.values())


def _scalar_key(node: yaml.Node) -> tuple[str, str] | None:
    """What makes two scalar keys equal (tag and text); None for other keys."""
    if not isinstance(node, yaml.ScalarNode) or node.tag == YAML_MERGE_TAG:
        return None  # a sequence or mapping key is refused by the constructor anyway
    return (node.tag, node.value)


def _reject_duplicate_keys(node: yaml.MappingNode) -> None:
    """Raise a YAML error naming a key given twice in `node` and both its lines."""
    first_line: dict[tuple[str, str], int] = {}
    for key_node, _ in node.value:
        key = _scalar_key(key_node)
        if key is None:
            continue
        line = key_node.start_mark.line + 1
        if key in first_line:
            raise yaml.constructor.ConstructorError(
                problem=(
                    f"key {quote(key_node.value)} appears twice, at lines {first_line[key]} "
                    f"and {line} (allowed: each key once per mapping; DVC rejects it too)"
                ),
                problem_mark=key_node.start_mark,
            )
        first_line[key] = line


def read_params_file(path: Path) -> dict[str, Any]:
    """The mapping of sections in the YAML file at `path`, not yet validated.

    Raises:
        ParamsError: one line naming the file and what is wrong with it: too
            large, unreadable, not UTF-8, not YAML, a key twice, not a mapping.
    """
    raw = _parse_yaml(_read_text(path), path) or {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    return raw


def _read_text(path: Path) -> str:
    """The file's text, decoded strictly as UTF-8 (what DVC and PyYAML expect)."""
    try:
        size = path.stat().st_size
        if size > MAX_PARAMS_BYTES:
            # Refused unread: parsing and validating megabytes takes minutes and gigabytes.
            raise ParamsError(
                f"{path}: is {size:,} bytes (allowed: up to {MAX_PARAMS_BYTES:,}; the shipped "
                "one is a few thousand)"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ParamsError(f"{path}: is a directory (allowed: a YAML file)") from None
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ParamsError(f"{path}: cannot be read ({reason})") from None
    wide = _wide_encoding(data)
    if wide:
        raise ParamsError(f"{path}: encoded as {wide} (allowed: UTF-8); save it as UTF-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ParamsError(
            f"{path}: not UTF-8 (byte 0x{data[err.start]:02x} on line {line}; perhaps "
            "Latin-1); save it as UTF-8"
        ) from None


def _wide_encoding(data: bytes) -> str | None:
    """`data`'s encoding when it is UTF-16 or UTF-32, which UTF-8 decoding would garble."""
    for bom, name in WIDE_BOMS:
        if data.startswith(bom):
            return f"{name} with a byte-order mark"
    if data and data.count(0) >= UTF16_NUL_SHARE * len(data):
        return "UTF-16 without a byte-order mark"
    return None


def _parse_yaml(text: str, path: Path) -> Any:
    """The YAML document in `text`, or a one-line `ParamsError` saying where it breaks."""
    try:
        # yaml.load with a SafeLoader subclass: as safe as yaml.safe_load.
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML{_yaml_problem(err, text)}") from None
    except RecursionError:
        raise ParamsError(f"{path}: not valid YAML: nested too deeply") from None
    except ValueError as err:
        # PyYAML's constructors let these through: an integer of more than 4,300
        # digits, a date such as 2024-13-01.
        raise ParamsError(f"{path}: not valid YAML: {one_line(str(err))}") from None


def _yaml_problem(err: yaml.YAMLError, text: str) -> str:
    """Where and why PyYAML stopped, as ` at line N: problem`."""
    if isinstance(err, yaml.reader.ReaderError):
        # A control character: the reader knows its offset, not its line.
        line = text.count("\n", 0, err.position) + 1
        return f" at line {line}: character #x{err.character:04x}: {one_line(err.reason)}"
    mark = getattr(err, "problem_mark", None)
    where = f" at line {mark.line + 1}" if mark else ""
    problem = getattr(err, "problem", None)
    return f"{where}: {one_line(problem)}" if problem else where
