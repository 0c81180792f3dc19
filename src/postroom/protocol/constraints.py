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


def _scalar_faults(shape: dict[str, Any], value: Any) -> list[str]:
    """What a string or number breaks, each as "Member must ..."."""
    faults = []
    if shape["type"] == "string" and isinstance(value, str):
        if "max" in shape and len(value) > shape["max"]:
            faults.append(f"Member must have length less than or equal to {shape['max']}")
        if "min" in shape and len(value) < shape["min"]:
            faults.append(f"Member must have length greater than or equal to {shape['min']}")
        if "enum" in shape and value not in shape["enum"]:
            faults.append(f"Member must satisfy enum value set: [{', '.join(shape['enum'])}]")
        elif "pattern" in shape and not _matcher(shape["pattern"])(value):
            faults.append(f"Member must satisfy regular expression pattern: {shape['pattern']}")
    elif shape["type"] in ("integer", "long") and isinstance(value, int):
        if "max" in shape and value > shape["max"]:
            faults.append(f"Member must have value less than or equal to {shape['max']}")
        if "min" in shape and value < shape["min"]:
            faults.append(f"Member must have value greater than or equal to {shape['min']}")
    return faults


def _scalar_rules(shape: dict[str, Any]) -> list[str]:
    """Every rule of a list's scalar member, as AWS lists them when one member breaks any."""
    rules = []
    if "max" in shape:
        rules.append(f"Member must have length less than or equal to {shape['max']}")
    if "min" in shape:
        rules.append(f"Member must have length greater than or equal to {shape['min']}")
    if "pattern" in shape:
        rules.append(f"Member must satisfy regular expression pattern: {shape['pattern']}")
    return [*rules, "Member must not be null"]


class _Checker:
    def __init__(self, model: ServiceModel, hidden: frozenset[str]) -> None:
        self.model = model
        self.hidden = hidden
        self.out: list[str] = []

    def check(self, shape: dict[str, Any], value: Any, where: str) -> None:
        kind = shape["type"]
        if kind == "structure" and isinstance(value, dict):
            for member, ref in shape.get("members", {}).items():
                item = value.get(member)
                if item is not None:
                    path = f"{where}.{_lower_first(member)}" if where else _lower_first(member)
                    self.check(self.model.shapes[ref["shape"]], item, path)
        elif kind == "list" and isinstance(value, list):
            self.list(shape, value, where)
        else:
            leaf = where.rsplit(".", 1)[-1]
            shown = "" if leaf in self.hidden else f" '{value}'"
            for fault in _scalar_faults(shape, value):
                self.out.append(f"Value{shown} at '{where}' failed to satisfy constraint: {fault}")

    def list(self, shape: dict[str, Any], value: list[Any], where: str) -> None:
        head = f"Value at '{where}' failed to satisfy constraint:"
        if "max" in shape and len(value) > shape["max"]:
            self.out.append(f"{head} Member must have length less than or equal to {shape['max']}")
        if "min" in shape and len(value) < shape["min"]:
            self.out.append(f"{head} Member must have length greater than or equal to {shape['min']}")
        member = self.model.shapes[shape["member"]["shape"]]
        if member["type"] in ("structure", "list", "map"):
            for i, item in enumerate(value, 1):
                self.check(member, item, f"{where}.{i}.member")
        elif any(_scalar_faults(member, item) for item in value):
            # A list of plain values is reported as a whole, with every rule of its members.
            self.out.append(f"{head} Member must satisfy constraint: [{', '.join(_scalar_rules(member))}]")


def check_constraints(
    model: ServiceModel, operation: str, params: dict[str, Any], hidden: frozenset[str] = frozenset()
) -> None:
    """Raise ``ValidationError`` listing every constraint the input breaks. Members named
    in ``hidden`` (by their wire name, e.g. "key") are reported without their value, as
    the service does for them."""
    shape = model.input_shape(operation)
    if shape is None:
        return
    checker = _Checker(model, hidden)
    checker.check(shape, params, "")
    if checker.out:
        count = len(checker.out)
        noun = "error" if count == 1 else "errors"
        raise AWSError("ValidationError", f"{count} validation {noun} detected: " + "; ".join(checker.out))
