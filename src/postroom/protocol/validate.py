"""Model-driven checks shared by every protocol: required members present."""

from __future__ import annotations

from typing import Any

from postroom.protocol.errors import missing_parameter
from postroom.protocol.model import ServiceModel


def check_required(model: ServiceModel, operation: str, params: dict[str, Any]) -> None:
    """Raise MissingParameter for the first required member (at any depth) that is absent."""
    shape = model.input_shape(operation)
    if shape is not None:
        _check(model, shape, params, "")


def _requires(model: ServiceModel, shape: dict[str, Any], seen: frozenset[int] = frozenset()) -> bool:
    """Whether anything at or below ``shape`` is required (memoised on the shape)."""
    cached = shape.get("_requires")
    if cached is not None:
        return cached
    if id(shape) in seen:
        return False
    seen = seen | {id(shape)}
    refs = list(shape.get("members", {}).values()) + [shape[k] for k in ("member", "value") if k in shape]
    result = bool(shape.get("required")) or any(_requires(model, model.shapes[r["shape"]], seen) for r in refs)
    shape["_requires"] = result
    return result


def _check(model: ServiceModel, shape: dict[str, Any], value: Any, path: str) -> None:
    kind = shape["type"]
    if kind == "structure" and isinstance(value, dict):
        for name in shape.get("required", ()):
            if value.get(name) is None:
                raise missing_parameter(f"{path}{name}")
        for name, ref in shape.get("members", {}).items():
            item = value.get(name)
            if item is not None:
                member = model.shapes[ref["shape"]]
                if member["type"] in ("structure", "list", "map") and _requires(model, member):
                    _check(model, member, item, f"{path}{name}.")
    elif kind == "list" and isinstance(value, list):
        member = model.shapes[shape["member"]["shape"]]
        if member["type"] in ("structure", "list", "map"):
            for i, item in enumerate(value, 1):
                _check(model, member, item, f"{path.rstrip('.')}.{i}.")
    elif kind == "map" and isinstance(value, dict):
        member = model.shapes[shape["value"]["shape"]]
        if member["type"] in ("structure", "list", "map"):
            for key, item in value.items():
                _check(model, member, item, f"{path.rstrip('.')}.{key}.")
