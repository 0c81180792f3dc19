"""Service models: botocore's ``service-2`` definitions, loaded once per service.

For SQS the query-protocol wire traits that current botocore no longer carries are
overlaid from ``data/sqs-query-traits.json`` (see ``tools/gen_sqs_query_traits.py``).
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.loaders import Loader

from postroom.protocol.errors import AWSError

_DATA = Path(__file__).resolve().parent / "data"
_QUERY_TRAIT_OVERLAYS = {"sqs": "sqs-query-traits.json"}
# Services whose query-protocol errors carry an empty <Detail/> (captured AWS answers: SQS
# sends it, SNS does not).
_QUERY_ERROR_DETAIL = frozenset({"sqs"})


@dataclass(frozen=True)
class ErrorSpec:
    """How one modelled error appears on the wire."""

    shape: str
    code: str
    status: int
    sender: bool


@dataclass
class ServiceModel:
    """One AWS service's operations and shapes, plus its query-protocol traits."""

    name: str
    metadata: dict[str, Any]
    operations: dict[str, dict[str, Any]]
    shapes: dict[str, dict[str, Any]]
    errors: dict[str, ErrorSpec] = field(default_factory=dict)
    result_wrappers: dict[str, str] = field(default_factory=dict)
    xml_namespace: str = ""
    query_error_detail: bool = False

    def input_shape(self, operation: str) -> dict[str, Any] | None:
        ref = self.operations[operation].get("input")
        return self.shapes[ref["shape"]] if ref else None

    def output_shape(self, operation: str) -> dict[str, Any] | None:
        ref = self.operations[operation].get("output")
        return self.shapes[ref["shape"]] if ref else None

    def error(self, shape: str, message: str, **fields: Any) -> AWSError:
        """Build the AWSError for a modelled error shape; ``fields`` are extra members of the
        shape for JSON bodies (e.g. Lambda's ``Reason``)."""
        spec = self.errors[shape]
        return AWSError(spec.code, message, spec.status, spec.sender, type_name=shape, fields=fields or None)


def _overlay(shapes: dict[str, dict[str, Any]], traits: dict[str, Any]) -> None:
    for name, extra in traits.get("shapes", {}).items():
        shape = shapes.get(name)
        if shape is None:
            continue
        for key in ("locationName", "flattened"):
            if key in extra:
                shape[key] = extra[key]
        for part in ("member", "key", "value"):
            if part in extra and part in shape:
                shape[part].update(extra[part])
        for member, ref_traits in extra.get("members", {}).items():
            if member in shape.get("members", {}):
                shape["members"][member].update(ref_traits)


def _strip_docs(obj: Any) -> Any:
    # Documentation strings are most of a model's size; the server never needs them.
    if isinstance(obj, dict):
        return {k: _strip_docs(v) for k, v in obj.items() if k != "documentation"}
    if isinstance(obj, list):
        return [_strip_docs(v) for v in obj]
    return obj


@functools.cache
def load_service_model(service: str) -> ServiceModel:
    """Load (once) the newest botocore model of ``service`` with its query traits."""
    raw = Loader().load_service_model(service, "service-2")
    model = _strip_docs(copy.deepcopy(raw))
    shapes = model["shapes"]
    errors: dict[str, ErrorSpec] = {}
    wrappers: dict[str, str] = {}
    xml_ns = model["metadata"].get("xmlNamespace", "")
    for name, shape in shapes.items():
        if shape.get("exception"):
            err = shape.get("error", {})
            errors[name] = ErrorSpec(
                name, err.get("code", name), err.get("httpStatusCode", 400), err.get("senderFault", True)
            )
    for op_name, op in model["operations"].items():
        wrapper = op.get("output", {}).get("resultWrapper")
        if wrapper:
            wrappers[op_name] = wrapper
    overlay_file = _QUERY_TRAIT_OVERLAYS.get(service)
    if overlay_file:
        traits = json.loads((_DATA / overlay_file).read_text())
        _overlay(shapes, traits)
        xml_ns = traits["metadata"]["xmlNamespace"]
        for op_name, op in traits["operations"].items():
            wrappers[op_name] = op["resultWrapper"]
        for name, err in traits["errors"].items():
            errors[name] = ErrorSpec(name, err["code"], err["httpStatusCode"], err["senderFault"])
    return ServiceModel(
        name=service,
        metadata=model["metadata"],
        operations=model["operations"],
        shapes=shapes,
        errors=errors,
        result_wrappers=wrappers,
        xml_namespace=xml_ns,
        query_error_detail=service in _QUERY_ERROR_DETAIL,
    )
