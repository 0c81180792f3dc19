"""Function, alias and layer names and ARNs, parsed and built as AWS does."""

from __future__ import annotations

import re
from dataclasses import dataclass

from postroom.lambda_.errors import constraint, invalid_parameter

_FUNCTION_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?"
    r"(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)
_FUNCTION = re.compile(
    r"^(?:arn:(?:aws[a-zA-Z-]*)?:lambda:(?P<region>[a-z]{2}(?:(?:-gov)|(?:-iso[a-z]?))?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?(?:function:)?(?P<name>[a-zA-Z0-9-_\.]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9-_]+))?$"
)
_NAME = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")
_QUALIFIER = re.compile(r"^[a-zA-Z0-9$_-]+$")
_VERSION = re.compile(r"^[0-9]+$")
ALIAS = re.compile(r"^(?!^[0-9]+$)[a-zA-Z0-9-_]+$")
_LAYER_NAME = re.compile(r"^[a-zA-Z0-9-_]+$")
_LAYER_ARN = re.compile(
    r"^arn:[a-zA-Z0-9-]+:lambda:(?P<region>[a-zA-Z0-9-]+):(?P<account>\d{12}):layer:(?P<name>[a-zA-Z0-9-_]+)"
    r"(?::(?P<version>[0-9]+))?$"
)

LATEST = "$LATEST"


@dataclass(frozen=True, slots=True)
class FunctionRef:
    """A function as a request named it: where it lives, its name, and any qualifier."""

    account: str
    region: str
    name: str
    qualifier: str | None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.account, self.region, self.name)

    @property
    def arn(self) -> str:
        return function_arn(self.region, self.account, self.name)

    def qualified_arn(self, qualifier: str | None = None) -> str:
        q = qualifier or self.qualifier
        return f"{self.arn}:{q}" if q else self.arn


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def layer_arn(region: str, account: str, name: str, version: int | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:layer:{name}"
    return f"{arn}:{version}" if version is not None else arn


def is_version(qualifier: str) -> bool:
    return bool(_VERSION.match(qualifier))


def is_alias(qualifier: str) -> bool:
    return qualifier != LATEST and not is_version(qualifier)


def parse_function(
    value: str | None,
    account: str,
    region: str,
    qualifier: str | None = None,
    path: str = "functionName",
) -> FunctionRef:
    """Parse a name, partial ARN or full ARN (each maybe ``:qualifier``), with AWS's errors."""
    value = value or ""
    match = _FUNCTION.match(value)
    if match is None or len(value) > 256:
        raise constraint(
            value, path, f"Member must satisfy regular expression pattern: {_FUNCTION_PATTERN}"
        )
    name = match["name"]
    if len(name) > 64 or "." in name:
        raise constraint(
            value, path, f"Member must satisfy regular expression pattern: {_FUNCTION_PATTERN}"
        )
    if match["region"] and match["region"] != region:
        raise invalid_parameter(
            f"Functions from '{match['region']}' are not reachable in this region ('{region}')"
        )
    derived = match["qualifier"]
    if qualifier is not None:
        if not _QUALIFIER.match(qualifier) or len(qualifier) > 128:
            raise constraint(
                qualifier,
                "qualifier",
                "Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)",
            )
        if derived is not None and derived != qualifier:
            raise invalid_parameter(
                "The derived qualifier from the function name does not match the specified qualifier."
            )
    return FunctionRef(match["account"] or account, region, name, qualifier or derived)


def check_new_name(name: str) -> None:
    """A name CreateFunction accepts (a bare name of 1..64 characters once parsed)."""
    if not _NAME.match(name):
        raise constraint(
            name,
            "functionName",
            f"Member must satisfy regular expression pattern: {_FUNCTION_PATTERN}",
        )


def parse_layer(value: str | None, account: str, region: str) -> tuple[str, str, str, int | None]:
    """(account, region, name, version) of a layer name or (version) ARN."""
    value = value or ""
    match = _LAYER_ARN.match(value)
    if match is not None:
        version = match["version"]
        return match["account"], match["region"], match["name"], int(version) if version else None
    if not _LAYER_NAME.match(value) or len(value) > 140:
        raise constraint(
            value,
            "layerName",
            "Member must satisfy regular expression pattern: "
            "(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+",
        )
    return account, region, value, None
