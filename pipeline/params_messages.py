"""One line for a schema violation in `params.yaml`: the key path, the bad value, what is allowed.

Pydantic reports a list of errors with its own paths (a part's tag inside
them) and the whole bad value; a stage's error is one short line. These
helpers also cut whatever a message quotes (a value, a YAML parser's
problem), so that a huge value (an alias bomb expands to megabytes) still
gives one short line.
"""

from __future__ import annotations

import reprlib
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from pipeline.models.presets import TAGS

# A value quoted in an error is cut to this many characters.
MAX_QUOTED_CHARS = 60
# The parser's own description of a YAML syntax error, cut likewise.
MAX_PROBLEM_CHARS = 160


def first_error(
    err: ValidationError,
    root: type[BaseModel],
    model_section: type[BaseModel],
    prefix: tuple[str, ...] = (),
) -> str:
    """One line for the first schema violation: key path, bad value, what is allowed.

    Args:
        err: pydantic's error, raised validating `root` (the whole file's schema).
        root: the schema the error's key path starts in; any key it does not
            name is a model section.
        model_section: the class a model section's keys are checked against
            (a translation model's differs from a noise-to-image model's).
        prefix: keys before the error's own path, when `err` was raised
            validating a part of the file.
    """
    first = err.errors(include_url=False)[0]
    where = _SchemaPath.walk((*prefix, *first["loc"]), root, model_section)
    loc, kind, message = where.dotted, first["type"], first["msg"]
    if kind == "value_error":
        # Raised by our validators, which name the key within their section.
        message = message.removeprefix("Value error, ")
        return f"{loc}.{message}" if loc else message
    if kind == "extra_forbidden":
        allowed = ", ".join(where.allowed_keys())
        if where.variant:
            return f"{loc}: does not apply when {where.variant} (allowed: {allowed})"
        return f"{loc}: unknown key (allowed: {allowed})"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        # A part's name that no registry holds, or a part without one.
        ctx = first.get("ctx", {})
        tag = ctx.get("discriminator", "").strip("'")
        # Read from the schema: pydantic lists no tags when the tag is missing.
        allowed = ", ".join(where.variants) or ctx.get("expected_tags", "").replace("'", "")
        if kind == "union_tag_not_found":
            return f"{loc}.{tag}: required key is missing (allowed: {allowed})"
        return f"{loc}.{tag} = {quote(ctx.get('tag'))}: unknown (allowed: {allowed})"
    if kind == "model_attributes_type" and where.variants:
        # A part given as a bare value (`source: tfds`, the form before sources
        # had settings of their own) instead of a mapping that names it.
        tag, example = where.variant_tag, where.variants[0]
        if isinstance(first.get("input"), str) and first["input"] in where.variants:
            example = first["input"]
        return (
            f"{loc} = {quote(first.get('input'))}: expected a mapping with its {tag}, "
            f"e.g. {{{tag}: {example}}} (allowed: {', '.join(where.variants)})"
        )
    if kind == "missing":
        return f"{loc}: required key is missing"
    return f"{loc} = {quote(first.get('input'))}: {message}"


class _SchemaPath:
    """An error's key path, walked through the schema: what to show, and where it ends.

    Pydantic puts a part's tag into the path (`loss.hinge.label_smoothing`
    for `loss: {name: hinge, label_smoothing: ...}`); the walk drops it from
    what is shown and remembers it, to say which variant the key was given to.
    """

    def __init__(self, root: type[BaseModel], model_section: type[BaseModel]) -> None:
        self.shown: list[str | int] = []
        self.root = root
        self.section: type[BaseModel] | None = root
        self.model_section = model_section
        self.variant: str | None = None
        # Where the path ends on a slot of parts (`loss`, `prepare.source`): the
        # key that names a part, and the names its registry holds.
        self.variant_tag: str | None = None
        self.variants: list[str] = []
        # The section the last shown key was looked up in.
        self.parent: type[BaseModel] | None = None

    @classmethod
    def walk(
        cls, path: tuple[str | int, ...], root: type[BaseModel], model_section: type[BaseModel]
    ) -> _SchemaPath:
        where = cls(root, model_section)
        parts = list(path)
        while parts:
            key = parts.pop(0)
            where.shown.append(key)
            where.parent = where.section
            annotation = where._annotation(key)
            members = _tagged_members(annotation)
            if members and parts and parts[0] in members:
                tag = parts.pop(0)
                where.variant = f"{where.dotted}.{members[tag][0]} is {tag!r}"
                annotation = members[tag][1]
                members = {}  # past the slot: inside the part it names
            where.section = _model_class(annotation)
            where.variants = [str(name) for name in members]
            where.variant_tag = next((tag_key for tag_key, _ in members.values()), None)
        return where

    def _annotation(self, key: str | int) -> Any:
        if self.section is None:
            return None
        field = self.section.model_fields.get(str(key))
        if field is None:
            # Any other top-level key is a model section.
            return self.model_section if self.section is self.root else None
        return field.annotation

    @property
    def dotted(self) -> str:
        return ".".join(label(part) for part in self.shown)

    def allowed_keys(self) -> list[str]:
        """The keys accepted beside the last one: its section's fields."""
        return sorted(self.parent.model_fields) if self.parent else []


def _model_class(annotation: Any) -> type[BaseModel] | None:
    """The section class `annotation` names, `X | None` unwrapped; None for a plain value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    present = [arg for arg in get_args(annotation) if arg is not type(None)]
    if len(present) == 1:
        return _model_class(present[0])
    return None


def _tagged_members(annotation: Any) -> dict[Any, tuple[str, type[BaseModel]]]:
    """For a union of parts: each member by its tag value, with the tag's key."""
    members: dict[Any, tuple[str, type[BaseModel]]] = {}
    for member in get_args(annotation):
        if not (isinstance(member, type) and issubclass(member, BaseModel)):
            continue
        for key in TAGS:
            field = member.model_fields.get(key)
            if field is not None and get_args(field.annotation):
                members[get_args(field.annotation)[0]] = (key, member)
    return members


def _short_repr() -> reprlib.Repr:
    # reprlib stops after a few items and levels, so quoting an alias bomb costs
    # microseconds; plain repr() would build the whole expansion first.
    short = reprlib.Repr()
    short.maxlevel = 2
    short.maxlist = short.maxtuple = short.maxdict = short.maxset = 4
    short.maxstring = short.maxother = short.maxlong = MAX_QUOTED_CHARS
    return short


_SHORT_REPR = _short_repr()


def quote(value: Any) -> str:
    """`repr(value)` cut to MAX_QUOTED_CHARS, so every quoted value keeps the line short."""
    try:
        text = _SHORT_REPR.repr(value)
    except ValueError:
        # repr() of an integer of more than 4,300 digits raises.
        text = f"<{type(value).__name__}>"
    return _cut(text, MAX_QUOTED_CHARS)


def label(part: Any) -> str:
    """A key as written, or quoted when it is not a short one-line string."""
    if isinstance(part, str) and part.isprintable() and len(part) <= MAX_QUOTED_CHARS:
        return part
    return quote(part)


def one_line(text: str) -> str:
    """`text` with its whitespace runs (newlines included) collapsed, cut short."""
    return _cut(" ".join(text.split()), MAX_PROBLEM_CHARS)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
