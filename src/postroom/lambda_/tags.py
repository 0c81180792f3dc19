"""Tags on functions (aliases and versions cannot be tagged, as on AWS)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from postroom.lambda_ import limits
from postroom.lambda_.errors import constraint, invalid_parameter, validation
from postroom.lambda_.names import LATEST, parse_function
from postroom.protocol.context import RequestContext

if TYPE_CHECKING:
    from postroom.lambda_.service import LambdaService

Result = dict[str, Any] | None
_RESOURCE_RULE = (
    r"Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?"
    r"-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|layer:[a-zA-Z0-9-_]+)"
)


def check_tags(tags: dict[str, str]) -> dict[str, str]:
    if len(tags) > limits.TAGS_PER_FUNCTION:
        raise invalid_parameter("Number of tags exceeds resource tag limit.")
    for key, value in tags.items():
        if not key or len(key) > 128 or key.lower().startswith("aws:"):
            raise invalid_parameter(f"Tag key {key} is invalid.")
        if value is None or len(value) > 256:
            raise invalid_parameter(f"Tag value for key {key} is invalid.")
    return dict(tags)


def _function(svc: LambdaService, resource: str, ctx: RequestContext) -> Any:
    if not resource.startswith("arn:"):
        raise constraint(resource, "resource", _RESOURCE_RULE)
    ref = parse_function(resource, ctx.account, ctx.region, path="resource")
    if ref.qualifier is not None:
        raise invalid_parameter(
            "Tags on function aliases and versions are not supported. Please specify a function ARN."
        )
    return ref, svc.function(ref)


async def tag_resource(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    if not p.get("Tags"):
        raise invalid_parameter("An error occurred and the request cannot be processed.")
    async with svc.lock:
        _, fn = _function(svc, p["Resource"], ctx)
        changed = svc.copy(fn)
        changed.tags = check_tags({**fn.tags, **p["Tags"]})
        changed.versions[LATEST]["RevisionId"] = svc.new_revision()  # a tag change is a change
        await svc.save(changed)
    return None


async def untag_resource(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    if not p.get("TagKeys"):
        raise validation(
            "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null"
        )
    async with svc.lock:
        _, fn = _function(svc, p["Resource"], ctx)
        changed = svc.copy(fn)
        for key in p["TagKeys"]:
            changed.tags.pop(key, None)
        changed.versions[LATEST]["RevisionId"] = svc.new_revision()
        await svc.save(changed)
    return None


async def list_tags(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    _, fn = _function(svc, p["Resource"], ctx)
    return {"Tags": dict(fn.tags)}


OPERATIONS = {"TagResource": tag_resource, "UntagResource": untag_resource, "ListTags": list_tags}
