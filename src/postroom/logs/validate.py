"""Model constraints (length, range, pattern, enum) on CloudWatch Logs input, answered as
AWS's front end answers them: InvalidParameterException, "1 validation error detected:
Value 'x' at 'member' failed to satisfy constraint: ...". """

from __future__ import annotations

import functools
import re
from typing import Any

from postroom.logs.errors import invalid_parameter
from postroom.protocol.model import ServiceModel

_NAME_MEMBERS = ("logGroupName", "logStreamName")


@functools.cache
def _regex(pattern: str) -> re.Pattern[str] | None:
    if "\\p" in pattern:
        return None  # Java Unicode classes: not checked
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def check_constraints(model: ServiceModel, operation: str, params: dict[str, Any]) -> None:
    shape = model.input_shape(operation)
    if shape is None:
        return
    problems: list[str] = []
    for name, ref in shape.get("members", {}).items():
        if name in params:
            _check(model, model.shapes[ref["shape"]], params[name], name, problems)
    if not problems:
        return
    if any(p.startswith("\x00") for p in problems):
        raise invalid_parameter("Invalid LogGroup or LogStream, both must have length less than or equal to 512.")
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    raise invalid_parameter(f"{count} validation {noun} detected: " + "; ".join(problems))


def _check(model: ServiceModel, shape: dict[str, Any], value: Any, path: str, problems: list[str]) -> None:
    kind = shape["type"]
    fail = f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: Member must "
    if kind == "string":
        if "max" in shape and len(value) > shape["max"]:
            if path in _NAME_MEMBERS:
                problems.append("\x00")
                return
            problems.append(fail + f"have length less than or equal to {shape['max']}")
        elif "min" in shape and len(value) < shape["min"]:
            problems.append(fail + f"have length greater than or equal to {shape['min']}")
        elif "enum" in shape and value not in shape["enum"]:
            problems.append(fail + f"satisfy enum value set: [{', '.join(shape['enum'])}]")
        elif "pattern" in shape:
            regex = _regex(shape["pattern"])
            if regex is not None and regex.fullmatch(value) is None:
                problems.append(fail + f"satisfy regular expression pattern: {shape['pattern']}")
    elif kind in ("integer", "long"):
        if "max" in shape and value > shape["max"]:
            problems.append(fail + f"have value less than or equal to {shape['max']}")
        elif "min" in shape and value < shape["min"]:
            problems.append(fail + f"have value greater than or equal to {shape['min']}")
    elif kind == "list":
        if "max" in shape and len(value) > shape["max"]:
            problems.append(fail + f"have length less than or equal to {shape['max']}")
        elif "min" in shape and len(value) < shape["min"]:
            problems.append(fail + f"have length greater than or equal to {shape['min']}")
        member = model.shapes[shape["member"]["shape"]]
        for i, item in enumerate(value, 1):
            _check(model, member, item, f"{path}.{i}.member", problems)
    elif kind == "map":
        if "max" in shape and len(value) > shape["max"]:
            problems.append(fail + f"have length less than or equal to {shape['max']}")
        elif "min" in shape and len(value) < shape["min"]:
            problems.append(fail + f"have length greater than or equal to {shape['min']}")
    elif kind == "structure":
        for name, ref in shape.get("members", {}).items():
            if name in value:
                _check(model, model.shapes[ref["shape"]], value[name], f"{path}.{name}", problems)
