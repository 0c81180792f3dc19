"""Versions: publishing immutable snapshots of $LATEST, and listing them."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from postroom.lambda_.code import HOT_RELOAD_SHA
from postroom.lambda_.config import digest, listed, version_configuration
from postroom.lambda_.errors import (
    check_length,
    invalid_parameter,
    precondition_failed,
    unsupported,
)
from postroom.lambda_.names import LATEST, parse_function
from postroom.lambda_.paging import page, with_marker
from postroom.protocol.context import RequestContext
from postroom.storage.functions import Doc, FunctionRecord

if TYPE_CHECKING:
    from postroom.lambda_.service import LambdaService

Result = dict[str, Any] | None


def publish(svc: LambdaService, fn: FunctionRecord, description: str | None) -> Doc:
    """Add a version snapshot of $LATEST to ``fn`` (in place, not yet saved) and return it;
    when $LATEST has not changed since the newest version, return that version instead."""
    latest = fn.versions[LATEST]
    current = digest(latest)
    numbers = [int(v) for v in fn.versions if v != LATEST]
    if numbers:
        newest = fn.versions[str(max(numbers))]
        if newest.get("_digest") == current:
            return newest
    number = str(fn.next_version)
    fn.next_version += 1
    doc = copy.deepcopy(latest)
    doc.update(
        Version=number, RevisionId=svc.new_revision(), LastModified=svc.now_text(), _digest=current
    )
    if description is not None:
        doc["Description"] = description
    fn.versions[number] = doc
    latest["RevisionId"] = svc.new_revision()
    return doc


async def publish_version(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region)
    check_length(p.get("Description"), "description", 256)
    if p.get("PublishTo"):
        raise unsupported("PublishTo")
    async with svc.lock:
        fn = svc.function(ref)
        latest = fn.versions[LATEST]
        if p.get("RevisionId") and p["RevisionId"] != latest["RevisionId"]:
            raise precondition_failed()
        sha = p.get("CodeSha256")
        if sha and sha != latest["CodeSha256"] and latest["CodeSha256"] != HOT_RELOAD_SHA:
            raise invalid_parameter(
                f"CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({latest['CodeSha256']}). "
                "Please try again with the CodeSHA256 in $LATEST."
            )
        changed = svc.copy(fn)
        before = changed.next_version
        doc = publish(svc, changed, p.get("Description"))
        if changed.next_version != before:  # else nothing changed: the newest version as it is
            await svc.save(changed)
    return version_configuration(changed, doc["Version"], qualified=True)


async def list_versions_by_function(
    svc: LambdaService, p: dict[str, Any], ctx: RequestContext
) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region)
    fn = svc.function(ref)
    versions = sorted(fn.versions, key=lambda v: -1 if v == LATEST else int(v))
    chunk, marker = page(
        versions,
        lambda v: "0" * 12 if v == LATEST else f"{int(v):012d}",
        p.get("Marker"),
        p.get("MaxItems"),
    )
    configs = [listed(version_configuration(fn, v, qualified=True)) for v in chunk]
    return with_marker({"Versions": configs}, marker)


OPERATIONS = {
    "PublishVersion": publish_version,
    "ListVersionsByFunction": list_versions_by_function,
}
