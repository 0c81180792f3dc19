"""Model-driven input constraints (length, range, pattern, enum) with AWS's
``ValidationError`` wording: ``1 validation error detected: Value 'x' at 'roleName' failed
to satisfy constraint: Member must ...``. Used by services whose models carry the
constraints AWS enforces (IAM, STS)."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from postroom.protocol.errors import AWSError
from postroom.protocol.model import ServiceModel

_UNICODE_CLASS = re.compile(r"\\p\{([A-Z])\}")


@functools.cache
def _matcher(pattern: str) -> Callable[[str], bool]:
    """A full-match test for a model pattern (Java syntax; ``\\p{L}`` classes handled)."""
    classes = _UNICODE_CLASS.findall(pattern)
    if classes:
        # Only simple "[\p{L}\p{Z}...literals]+" / "*" classes occur in the models we serve.
        body = pattern[pattern.index("[") + 1 : pattern.rindex("]")]
        literals = set(_UNICODE_CLASS.sub("", body).replace("\\", ""))
        allow_empty = pattern.endswith("*")

        def match(value: str) -> bool:
            if not value:
                return allow_empty
            return all(c in literals or unicodedata.category(c)[0] in classes for c in value)

        return match
    # ASCII: Java's \w and \d (the models' dialect) match ASCII characters only.
    compiled = re.compile(pattern, re.DOTALL | re.ASCII)
    return lambda value: compiled.fullmatch(value) is not None


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _problems(model: ServiceModel, shape: dict[str, Any], value: Any, where: str, out: list[str]) -> None:
    kind = shape["type"]
    if kind == "structure" and isinstance(value, dict):
        for member, ref in shape.get("members", {}).items():
            item = value.get(member)
            if item is not None:
                path = f"{where}.{_lower_first(member)}" if where else _lower_first(member)
                _problems(model, model.shapes[ref["shape"]], item, path, out)
    elif kind == "list" and isinstance(value, list):
        if "max" in shape and len(value) > shape["max"]:
            out.append(f"Value at '{where}' failed to satisfy constraint: Member must have length less than or equal to {shape['max']}")
        if "min" in shape and len(value) < shape["min"]:
            out.append(f"Value at '{where}' failed to satisfy constraint: Member must have length greater than or equal to {shape['min']}")
        member = model.shapes[shape["member"]["shape"]]
        for i, item in enumerate(value, 1):
            _problems(model, member, item, f"{where}.{i}.member", out)
    elif kind == "string" and isinstance(value, str):
        head = f"Value '{value}' at '{where}' failed to satisfy constraint: Member must"
        if "max" in shape and len(value) > shape["max"]:
            out.append(f"{head} have length less than or equal to {shape['max']}")
        if "min" in shape and len(value) < shape["min"]:
            out.append(f"{head} have length greater than or equal to {shape['min']}")
        if "enum" in shape and value not in shape["enum"]:
            out.append(f"{head} satisfy enum value set: [{', '.join(shape['enum'])}]")
        elif "pattern" in shape and not _matcher(shape["pattern"])(value):
            out.append(f"{head} satisfy regular expression pattern: {shape['pattern']}")
    elif kind in ("integer", "long") and isinstance(value, int):
        head = f"Value '{value}' at '{where}' failed to satisfy constraint: Member must"
        if "max" in shape and value > shape["max"]:
            out.append(f"{head} have value less than or equal to {shape['max']}")
        if "min" in shape and value < shape["min"]:
            out.append(f"{head} have value greater than or equal to {shape['min']}")


def check_constraints(model: ServiceModel, operation: str, params: dict[str, Any]) -> None:
    """Raise ``ValidationError`` listing every constraint the input breaks."""
    shape = model.input_shape(operation)
    if shape is None:
        return
    problems: list[str] = []
    _problems(model, shape, params, "", problems)
    if problems:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        raise AWSError("ValidationError", f"{count} validation {noun} detected: " + "; ".join(problems))
