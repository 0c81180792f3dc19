"""SNS subscription filter policies: AWS-style validation, then fast matching.

``parse_filter_policy`` validates a policy the way SNS does and compiles it once into a tree
of matcher objects; matching never looks at the policy text again.

The core matches *fields*: a mapping from a dotted key path (``"detail.scope"``) to the leaf
values found there (``str``, ``bool``, ``None`` or a number). Two thin adapters build fields:
one from SNS message attributes, one from a JSON message body. Event rules and Lambda filter
criteria can reuse the core through ``FilterPolicy.matches_document``.

Semantics (AWS SNS developer guide, "Amazon SNS subscription filter policies" and subpages):

* AND across keys, OR within a key's list, ``$or`` (a list of at least two objects, none of
  whose keys is an operator) at any level; otherwise ``"$or"`` is an ordinary key.
* A key with several values (a ``String.Array`` attribute, a JSON array in the body) matches
  when any one of its values matches; arrays in the body are transparent, and the body's
  object keys are joined with dots, so ``{"a.b": ..}`` and ``{"a": {"b": ..}}`` are the same.
* Types are kept apart: string operators see only strings, numeric ones only numbers (a
  ``Number`` attribute, a JSON number); numbers compare by value to five decimal digits.
* ``exists: true`` needs a non-null leaf value; ``exists: false`` needs its absence and at
  least one attribute (or body key) in the message. ``Binary`` attributes are ignored.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import math
from collections.abc import Callable, Iterator, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

SCOPE_ATTRIBUTES = "MessageAttributes"
SCOPE_BODY = "MessageBody"
SCOPES = (SCOPE_ATTRIBUTES, SCOPE_BODY)

MAX_POLICY_BYTES = 256 * 1024
MAX_KEYS = 5
MAX_COMBINATIONS = 150
MAX_WILDCARDS_PER_PATTERN = 3
MAX_WILDCARD_COMPLEXITY = 100
NUMERIC_LIMIT = Decimal(1_000_000_000)
_SCALE = Decimal(100_000)  # "five digits of accuracy after the decimal point"

OPERATORS = frozenset(
    {
        "anything-but",
        "cidr",
        "equals-ignore-case",
        "exists",
        "numeric",
        "prefix",
        "suffix",
        "wildcard",
    }
)
_OR = "$or"
_PREFIX = "Invalid parameter: FilterPolicy: "
_SUBSCRIBE_PREFIX = "Invalid parameter: Attributes Reason: FilterPolicy: "
_NESTED_IN_ATTRIBUTES = (
    "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy"
)
_TOO_MANY_ELEMENTS = "Too many elements in numeric expression"
_ONE_KEY = "Only one key allowed in match expression"
_OUT_OF_RANGE = "Value must be between -1.0E9 and 1.0E9, inclusive"
_RANGE_OPERATORS = {"=": "equals", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class FilterPolicyError(ValueError):
    """An invalid filter policy. ``str(e)`` is AWS's message, ``e.reason`` its last part."""

    def __init__(self, reason: str, *, message: str | None = None) -> None:
        self.reason = reason
        self.message = message if message is not None else _PREFIX + reason
        super().__init__(self.message)

    def subscribe_message(self) -> str:
        """The message as ``Subscribe`` words it (``... Attributes Reason: FilterPolicy: ...``)."""
        if self.message.startswith(_PREFIX):
            return _SUBSCRIBE_PREFIX + self.reason
        return self.message


def _fail(reason: str) -> FilterPolicyError:
    return FilterPolicyError(reason)


# --------------------------------------------------------------------------- values


class _Num:
    """A number from a message: its exact value and, within +-1e9, its value in 1e-5 units."""

    __slots__ = ("exact", "scaled")

    def __init__(self, exact: Decimal) -> None:
        self.exact = exact
        self.scaled = _scaled(exact)

    def __repr__(self) -> str:
        return f"_Num({self.exact})"


def _scaled(value: Decimal) -> int | None:
    """``value`` in units of 1e-5 (rounded half up), or None outside -1e9..1e9."""
    # copy_abs, not abs(): abs() rounds in the decimal context and overflows on 1e999999999.
    if not value.is_finite() or value.copy_abs() > NUMERIC_LIMIT:
        return None
    return int((value * _SCALE).to_integral_value(rounding=ROUND_HALF_UP))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def _leaf(value: object) -> object:
    """A JSON leaf as the matchers see it (numbers become ``_Num``)."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, (int, Decimal)):
        return _Num(Decimal(value))
    if isinstance(value, float):
        return _Num(Decimal(repr(value))) if math.isfinite(value) else None
    return None


def _reject_constant(name: str) -> object:
    raise ValueError(f"not JSON: {name}")


def _loads(text: str | bytes) -> Any:
    """Strict JSON (no NaN/Infinity) with exact decimals."""
    return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)


def _token(value: object) -> str:
    """How the JSON token holding ``value`` reads in AWS's messages."""
    if isinstance(value, list):
        return "["
    if isinstance(value, dict):
        return "{"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------- matchers

_Matcher = Callable[[object], bool]


def _glob_parts(pattern: str) -> list[str]:
    """Split a wildcard pattern into literal parts around its ``*``s (``\\*``, ``\\\\`` escape)."""
    parts: list[str] = []
    literal: list[str] = []
    previous_star = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 < len(pattern) and pattern[i + 1] in "*\\":
                literal.append(pattern[i + 1])
                previous_star = False
                i += 2
                continue
            raise _fail(f"Invalid use of backslash escape character at pos {i}")
        if char == "*":
            if previous_star:
                raise _fail(f"Consecutive wildcard characters at pos {i}")
            parts.append("".join(literal))
            literal = []
            previous_star = True
        else:
            literal.append(char)
            previous_star = False
        i += 1
    parts.append("".join(literal))
    return parts


def _glob_match(parts: list[str], text: str) -> bool:
    """Linear-time wildcard match (leftmost placement of every middle part is enough)."""
    if len(parts) == 1:
        return text == parts[0]
    first, last = parts[0], parts[-1]
    if not text.startswith(first) or not text.endswith(last):
        return False
    position, end = len(first), len(text) - len(last)
    if end < position:
        return False
    for middle in parts[1:-1]:
        found = text.find(middle, position, end)
        if found < 0:
            return False
        position = found + len(middle)
    return True


@functools.lru_cache(maxsize=4096)
def _ip(text: str) -> tuple[int, int] | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return address.version, int(address)


def _prefix(value: str) -> _Matcher:
    return lambda v: type(v) is str and v.startswith(value)


def _suffix(value: str) -> _Matcher:
    return lambda v: type(v) is str and v.endswith(value)


def _prefix_ignore_case(value: str) -> _Matcher:
    folded = value.casefold()
    return lambda v: type(v) is str and v.casefold().startswith(folded)


def _suffix_ignore_case(value: str) -> _Matcher:
    folded = value.casefold()
    return lambda v: type(v) is str and v.casefold().endswith(folded)


def _equals_ignore_case(value: str) -> _Matcher:
    folded = value.casefold()
    return lambda v: type(v) is str and v.casefold() == folded


def _wildcard(parts: list[str]) -> _Matcher:
    return lambda v: type(v) is str and _glob_match(parts, v)


def _cidr(version: int, low: int, high: int) -> _Matcher:
    def match(v: object) -> bool:
        if type(v) is not str:
            return False
        parsed = _ip(v)
        return parsed is not None and parsed[0] == version and low <= parsed[1] <= high

    return match


def _numeric_range(low: int | None, low_open: bool, high: int | None, high_open: bool) -> _Matcher:
    def match(v: object) -> bool:
        if type(v) is not _Num or v.scaled is None:
            return False
        scaled = v.scaled
        if low is not None and (scaled <= low if low_open else scaled < low):
            return False
        return high is None or (scaled < high if high_open else scaled <= high)

    return match


def _numeric_equals(value: int) -> _Matcher:
    return lambda v: type(v) is _Num and v.scaled == value


def _anything_but_values(strings: frozenset[str], numbers: frozenset[int]) -> _Matcher:
    def match(v: object) -> bool:
        if v is None:
            return False
        if type(v) is str:
            return v not in strings
        if type(v) is _Num:
            return v.scaled is None or v.scaled not in numbers
        return True

    return match


def _anything_but_strings(test: Callable[[str], bool]) -> _Matcher:
    return lambda v: type(v) is str and not test(v)


# --------------------------------------------------------------------------- compiled tree


class _KeyTest:
    """One key and its list of match values (OR between them)."""

    __slots__ = (
        "absent",
        "big_numbers",
        "booleans",
        "exists",
        "matchers",
        "null",
        "numbers",
        "path",
        "strings",
    )

    def __init__(self, path: str) -> None:
        self.path = path
        self.strings: frozenset[str] = frozenset()
        self.numbers: frozenset[int] = frozenset()
        self.big_numbers: frozenset[Decimal] = frozenset()
        self.booleans: frozenset[bool] = frozenset()
        self.null = False
        self.exists = False
        self.absent = False
        self.matchers: tuple[_Matcher, ...] = ()

    def matches(self, values: list[object] | None, nonempty: bool) -> bool:
        """True when a value matches, or the key's presence/absence is what is asked for."""
        present = False
        if values:
            for value in values:
                if value is None:
                    if self.null:
                        return True
                    continue
                present = True
                kind = type(value)
                if kind is str:
                    if value in self.strings:
                        return True
                elif kind is _Num:
                    if value.scaled in self.numbers or value.exact in self.big_numbers:
                        return True
                elif kind is bool and value in self.booleans:
                    return True
                for matcher in self.matchers:
                    if matcher(value):
                        return True
        if present:
            return self.exists
        return self.absent and nonempty


class _Conjunction:
    """Key tests that must all match, and ``$or`` groups of which one member must match."""

    __slots__ = ("alternatives", "tests")

    def __init__(
        self, tests: tuple[_KeyTest, ...], alternatives: tuple[tuple[_Conjunction, ...], ...]
    ) -> None:
        self.tests = tests
        self.alternatives = alternatives

    def matches(self, fields: Mapping[str, list[object]], nonempty: bool) -> bool:
        for test in self.tests:
            if not test.matches(fields.get(test.path), nonempty):
                return False
        for group in self.alternatives:
            if not any(member.matches(fields, nonempty) for member in group):
                return False
        return True


# --------------------------------------------------------------------------- compiler

_Branches = list[list[int]]  # DNF of the policy: per branch, (values x nesting level) per key


class _Compiler:
    """Validates a parsed policy and builds its ``_Conjunction`` tree."""

    def __init__(self, enforce_limits: bool) -> None:
        self.enforce_limits = enforce_limits
        self.paths: set[str] = set()
        self.wildcard_complexity = 0
        self.overflow = False
        self.saw_nesting = False

    def conjunction(
        self, obj: dict[str, Any], prefix: str | None, depth: int
    ) -> tuple[_Conjunction, _Branches]:
        if not obj:
            raise _fail("Empty objects are not allowed")
        tests: list[_KeyTest] = []
        alternatives: list[tuple[_Conjunction, ...]] = []
        factors: list[int] = []
        groups: list[_Branches] = []
        for key, value in obj.items():
            if key == _OR and _is_or(value):
                members: list[_Conjunction] = []
                group: _Branches = []
                for member_obj in value:
                    member, member_branches = self.conjunction(member_obj, prefix, depth)
                    members.append(member)
                    group.extend(member_branches)
                    if len(group) > MAX_COMBINATIONS:
                        del group[MAX_COMBINATIONS + 1 :]
                        self.overflow = True
                alternatives.append(tuple(members))
                groups.append(group)
                continue
            path = key if prefix is None else f"{prefix}.{key}"
            if isinstance(value, dict):
                self.saw_nesting = True
                inner, inner_branches = self.conjunction(value, path, depth + 1)
                tests.extend(inner.tests)
                alternatives.extend(inner.alternatives)
                groups.append(inner_branches)
            elif isinstance(value, list):
                tests.append(self.key_test(path, value))
                factors.append(len(value) * depth)
            else:
                raise _fail(f'"{key}" must be an object or an array')
        branches: _Branches = [factors]
        for group in groups:
            branches = [branch + other for branch in branches for other in group]
            if len(branches) > MAX_COMBINATIONS:
                del branches[MAX_COMBINATIONS + 1 :]
                self.overflow = True
        return _Conjunction(tuple(tests), tuple(alternatives)), branches

    def key_test(self, path: str, values: list[Any]) -> _KeyTest:
        if not values:
            raise _fail("Empty arrays are not allowed")
        test = _KeyTest(path)
        strings: set[str] = set()
        numbers: set[int] = set()
        big_numbers: set[Decimal] = set()
        booleans: set[bool] = set()
        matchers: list[_Matcher] = []
        points = 0
        for value in values:
            if isinstance(value, str):
                strings.add(value)
            elif isinstance(value, bool):
                booleans.add(value)
            elif value is None:
                test.null = True
            elif _is_number(value):
                exact = Decimal(value)
                scaled = _scaled(exact)
                if scaled is None:
                    big_numbers.add(exact)
                else:
                    numbers.add(scaled)
            elif isinstance(value, dict):
                matcher, exists, value_points = self.expression(value)
                points += value_points
                if matcher is not None:
                    matchers.append(matcher)
                elif exists:
                    test.exists = True
                else:
                    test.absent = True
            else:
                raise _fail("Match value must be String, number, true, false, or null")
        self.wildcard_complexity += points * len(values)
        self.paths.add(path)
        test.strings = frozenset(strings)
        test.numbers = frozenset(numbers)
        test.big_numbers = frozenset(big_numbers)
        test.booleans = frozenset(booleans)
        test.matchers = tuple(matchers)
        return test

    def expression(self, expr: dict[str, Any]) -> tuple[_Matcher | None, bool, int]:
        """One ``{"operator": argument}``: (matcher, or None and the exists flag; points)."""
        if not expr:
            raise _fail("Match expression name not found")
        name, argument = next(iter(expr.items()))
        extra = len(expr) > 1
        points = 0
        exists = False
        matcher: _Matcher | None
        if name == "prefix" or name == "suffix":
            if isinstance(argument, dict):
                pattern = _ignore_case_argument(name, argument)
                matcher = (_prefix_ignore_case if name == "prefix" else _suffix_ignore_case)(
                    pattern
                )
            elif isinstance(argument, str):
                matcher = (_prefix if name == "prefix" else _suffix)(argument)
            else:
                raise _fail(f"{name} match pattern must be a string")
        elif name == "equals-ignore-case":
            if not isinstance(argument, str):
                raise _fail("equals-ignore-case match pattern must be a string")
            matcher = _equals_ignore_case(argument)
        elif name == "wildcard":
            if not isinstance(argument, str):
                raise _fail("wildcard match pattern must be a string")
            parts = self.wildcard_parts(argument)
            points = _wildcard_points(len(parts) - 1)
            matcher = _wildcard(parts)
        elif name == "cidr":
            if not isinstance(argument, str):
                raise _fail("cidr match pattern must be a string")
            matcher = _cidr(*_cidr_range(argument))
        elif name == "numeric":
            matcher = _numeric(argument)
            if extra:
                raise _fail(_TOO_MANY_ELEMENTS)
        elif name == "anything-but":
            matcher, points = self.anything_but(argument)
            if extra:
                raise _fail(_TOO_MANY_ELEMENTS)
        elif name == "exists":
            if not isinstance(argument, bool):
                raise _fail("exists match pattern must be either true or false.")
            matcher, exists = None, argument
        else:
            raise _fail(f"Unrecognized match type {name}")
        if extra:
            raise _fail(_ONE_KEY)
        return matcher, exists, points

    def anything_but(self, argument: Any) -> tuple[_Matcher, int]:
        if isinstance(argument, dict):
            if not argument:
                raise _fail("Anything-But expression name not found")
            operator, inner = next(iter(argument.items()))
            if operator not in ("prefix", "suffix", "wildcard", "equals-ignore-case"):
                raise _fail(f"Unsupported anything-but pattern: {operator}")
            patterns = inner if isinstance(inner, list) else [inner]
            if not patterns or not all(isinstance(p, str) for p in patterns):
                raise _fail(f"{operator} match pattern must be a string")
            if len(argument) > 1:
                raise _fail(_ONE_KEY)
            return self.anything_but_strings(operator, patterns), 1
        if isinstance(argument, list):
            values = argument
        elif isinstance(argument, str) or _is_number(argument):
            values = [argument]
        else:
            raise _fail("Value of anything-but must be an array or single string/number value.")
        has_string = has_number = False
        strings: set[str] = set()
        numbers: set[int] = set()
        for value in values:
            if isinstance(value, str):
                has_string = True
                strings.add(value)
            elif _is_number(value):
                has_number = True
                numbers.add(_policy_number(value))
            else:
                raise _fail("Inside anything but list, start|null|boolean is not supported.")
        if has_string == has_number:
            raise _fail(
                "Inside anything but list, either all values are number or string, "
                "mixed type is not supported"
            )
        return _anything_but_values(frozenset(strings), frozenset(numbers)), 1

    def anything_but_strings(self, operator: str, patterns: list[str]) -> _Matcher:
        if operator in ("prefix", "suffix") and any(p == "" for p in patterns):
            raise _fail("Null prefix/suffix not allowed")
        if operator == "prefix":
            starts = tuple(patterns)
            return _anything_but_strings(lambda v: v.startswith(starts))
        if operator == "suffix":
            ends = tuple(patterns)
            return _anything_but_strings(lambda v: v.endswith(ends))
        if operator == "equals-ignore-case":
            folded = frozenset(p.casefold() for p in patterns)
            return _anything_but_strings(lambda v: v.casefold() in folded)
        globs = [self.wildcard_parts(p) for p in patterns]
        return _anything_but_strings(lambda v: any(_glob_match(g, v) for g in globs))

    def wildcard_parts(self, pattern: str) -> list[str]:
        parts = _glob_parts(pattern)
        if self.enforce_limits and len(parts) - 1 > MAX_WILDCARDS_PER_PATTERN:
            raise _fail(
                f"Wildcard pattern can not have more than {MAX_WILDCARDS_PER_PATTERN} "
                "wildcard characters"
            )
        return parts


def _is_or(value: Any) -> bool:
    """Whether a ``"$or"`` value makes an OR (else ``"$or"`` is an ordinary key)."""
    return (
        isinstance(value, list)
        and len(value) >= 2
        and all(isinstance(member, dict) for member in value)
        and not any(key in OPERATORS for member in value for key in member)
    )


def _ignore_case_argument(operator: str, argument: dict[str, Any]) -> str:
    """The string of ``{"prefix": {"equals-ignore-case": "..."}}`` (and ``suffix``)."""
    if not argument:
        raise _fail(f"{operator.capitalize()} expression name not found")
    inner_name, inner = next(iter(argument.items()))
    if inner_name != "equals-ignore-case":
        raise _fail(f"Unsupported {operator} pattern: {inner_name}")
    if not isinstance(inner, str):
        raise _fail("equals-ignore-case match pattern must be a string")
    if len(argument) > 1:
        raise _fail(_ONE_KEY)
    return inner


def _wildcard_points(wildcards: int) -> int:
    """SNS's wildcard complexity points for one pattern."""
    if wildcards <= 1:
        return wildcards
    return 3 * wildcards


def _cidr_range(text: str) -> tuple[int, int, int]:
    """(IP version, first address, last address) of a CIDR block."""
    address_text, slash, bits = text.partition("/")
    if not slash:
        raise _fail("Malformed CIDR, one '/' required")
    if not bits.isascii() or not bits.isdigit():
        raise _fail("Malformed CIDR, mask bits must be an integer")
    try:
        address = ipaddress.ip_address(address_text)
    except ValueError:
        raise _fail(f"Nonstandard IP address: {address_text}") from None
    prefix_length = int(bits)
    if prefix_length > address.max_prefixlen:
        raise _fail(f"Malformed CIDR, mask bits must be between 0 and {address.max_prefixlen}")
    network = ipaddress.ip_network(f"{address}/{prefix_length}", strict=False)
    return network.version, int(network.network_address), int(network.broadcast_address)


def _policy_number(value: Any) -> int:
    """A number used by a numeric operator, in 1e-5 units; it must lie in -1e9..1e9."""
    scaled = _scaled(Decimal(value))
    if scaled is None:
        raise _fail(_OUT_OF_RANGE)
    return scaled


def _numeric(argument: Any) -> _Matcher:
    """Compile ``"numeric": [op, value (, op, value)]`` with AWS's messages."""
    if not isinstance(argument, list):
        raise _fail("Value of numeric must be an array.")
    if not argument:
        raise _fail("Invalid member in numeric match: ]")
    operator = argument[0]
    if not isinstance(operator, str):
        raise _fail(f"Invalid member in numeric match: {_token(operator)}")
    if operator not in _RANGE_OPERATORS:
        raise _fail(f"Unrecognized numeric range operator: {operator}")
    if len(argument) < 2 or not _is_number(argument[1]):
        raise _fail(f"Value of {_RANGE_OPERATORS[operator]} must be numeric")
    first = _policy_number(argument[1])
    if operator in ("=", "<", "<="):
        if len(argument) > 2:
            raise _fail(_TOO_MANY_ELEMENTS)
        if operator == "=":
            return _numeric_equals(first)
        return _numeric_range(None, False, first, operator == "<")
    if len(argument) == 2:
        return _numeric_range(first, operator == ">", None, False)
    second_operator = argument[2]
    if not isinstance(second_operator, str):
        raise _fail(f"Bad value in numeric range: {_token(second_operator)}")
    if second_operator not in ("<", "<="):
        raise _fail(f"Bad numeric range operator: {second_operator}")
    if len(argument) < 4 or not _is_number(argument[3]):
        raise _fail(f"Value of {second_operator} must be numeric")
    if len(argument) > 4:
        raise _fail("Too many terms in numeric range expression")
    second = _policy_number(argument[3])
    if first >= second:
        raise _fail("Bottom must be less than top")
    return _numeric_range(first, operator == ">", second, second_operator == "<")


# --------------------------------------------------------------------------- adapters


def _flatten(value: Any) -> Iterator[object]:
    """The leaves of a JSON value, arrays flattened (objects inside arrays are skipped)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif not isinstance(item, dict):
            yield _leaf(item)


def _attribute_values(data_type: str, raw: Any) -> list[object]:
    """The values an attribute offers to the matchers."""
    if raw is None:
        return []
    if data_type.startswith(("String.Array", "Number.Array")):
        try:
            parsed = _loads(raw) if isinstance(raw, (str, bytes)) else raw
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, list):
            return list(_flatten(parsed))
        return [raw if isinstance(raw, str) else str(raw)]
    if data_type.startswith("Number"):
        try:
            number = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
        except InvalidOperation:
            number = None
        if number is not None and number.is_finite():
            return [_Num(number)]
    return [raw if isinstance(raw, str) else str(raw)]


def _attribute_fields(
    attributes: Mapping[str, Any], wanted: frozenset[str]
) -> tuple[dict[str, list[object]], bool]:
    """Fields from SNS message attributes (wire ``Type``/``Value`` or Publish's
    ``DataType``/``StringValue``); Binary attributes are ignored. Also: any attribute left?"""
    fields: dict[str, list[object]] = {}
    nonempty = False
    for name, attribute in attributes.items():
        if isinstance(attribute, Mapping):
            data_type = attribute.get("Type") or attribute.get("DataType") or "String"
            raw = attribute.get("Value", attribute.get("StringValue"))
        else:
            data_type, raw = "String", attribute
        if data_type.startswith("Binary"):
            continue
        nonempty = True
        if name in wanted:
            fields[name] = _attribute_values(data_type, raw)
    return fields, nonempty


def _body_fields(
    document: Mapping[str, Any], wanted: frozenset[str], prefixes: frozenset[str]
) -> dict[str, list[object]]:
    """Fields from a JSON object: leaves under the wanted dotted paths, arrays flattened."""
    fields: dict[str, list[object]] = {}
    stack: list[tuple[Any, str]] = [(v, k) for k, v in document.items() if k in prefixes]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                child = f"{path}.{key}"
                if child in prefixes:
                    stack.append((value, child))
        elif isinstance(node, list):
            stack.extend((item, path) for item in node)
        elif path in wanted:
            fields.setdefault(path, []).append(_leaf(node))
    return fields


_last_body: tuple[object, Any] | None = None


def _parse_body(body: str | bytes) -> Any:
    """Parse a message body, reusing the last parse when the same object comes again
    (a topic's subscriptions all filter the same body)."""
    global _last_body
    cached = _last_body
    if cached is not None and cached[0] is body:
        return cached[1]
    try:
        document = _loads(body)
    except (ValueError, TypeError, RecursionError):
        document = None
    _last_body = (body, document)
    return document


# --------------------------------------------------------------------------- public API


class FilterPolicy:
    """A validated, compiled filter policy."""

    __slots__ = ("_match_all", "_prefixes", "_root", "_wanted", "scope", "source")

    def __init__(self, scope: str, source: str, root: _Conjunction | None, paths: set[str]):
        self.scope = scope
        self.source = source
        self._root = root
        self._match_all = root is None
        self._wanted = frozenset(paths)
        prefixes: set[str] = set()
        for path in paths:
            position = path.find(".")
            while position >= 0:
                prefixes.add(path[:position])
                position = path.find(".", position + 1)
            prefixes.add(path)
        self._prefixes = frozenset(prefixes)

    def __repr__(self) -> str:
        return f"FilterPolicy(scope={self.scope!r}, source={self.source!r})"

    def matches_attributes(self, attributes: Mapping[str, Any] | None) -> bool:
        """Match SNS message attributes: ``{"name": {"Type": .., "Value": ..}}`` (or
        ``DataType``/``StringValue``, or a bare string value)."""
        if self._root is None:
            return True
        fields, nonempty = _attribute_fields(attributes or {}, self._wanted)
        return self._root.matches(fields, nonempty)

    def matches_body(self, body: str | bytes) -> bool:
        """Match a message body, which must be a JSON object (anything else matches nothing)."""
        if self._root is None:
            return True
        return self.matches_document(_parse_body(body))

    def matches_document(self, document: Any) -> bool:
        """Match an already parsed JSON document (numbers as int, float or Decimal)."""
        if self._root is None:
            return True
        if not isinstance(document, dict):
            return False
        fields = _body_fields(document, self._wanted, self._prefixes)
        return self._root.matches(fields, bool(document))


def parse_filter_policy(
    text: str | bytes, scope: str = SCOPE_ATTRIBUTES, *, enforce_limits: bool = True
) -> FilterPolicy:
    """Validate ``text`` as SNS does for ``scope`` and compile it.

    Raises ``FilterPolicyError`` with AWS's message. ``enforce_limits=False`` skips SNS's
    size, key-count and complexity limits (for callers with limits of their own).
    ``"{}"`` is accepted and matches every message.
    """
    if scope not in SCOPES:
        raise FilterPolicyError(
            f"Invalid value [{scope}]",
            message=(
                f"Invalid parameter: FilterPolicyScope: Invalid value [{scope}]. "
                "Please use either MessageBody or MessageAttributes"
            ),
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise _fail("failed to parse JSON.") from None
    if enforce_limits and len(text.encode("utf-8", "surrogatepass")) > MAX_POLICY_BYTES:
        raise _fail("Filter policy is too large")
    try:
        policy = _loads(text)
    except (ValueError, RecursionError):
        raise _fail("failed to parse JSON.") from None
    if not isinstance(policy, dict):
        raise _fail("Filter is not an object")
    if not policy:
        return FilterPolicy(scope, text, None, set())
    compiler = _Compiler(enforce_limits)
    try:
        root, branches = compiler.conjunction(policy, None, 1)
    except RecursionError:
        raise _fail("Filter policy is too complex") from None
    if compiler.saw_nesting and scope == SCOPE_ATTRIBUTES:
        # Checked after the structure, as AWS does: {"k": {"suffix": "v"}} gets the
        # structural message, a well-formed nested policy this one.
        raise FilterPolicyError(
            "Filter policy scope MessageAttributes does not support nested filter policy",
            message=_NESTED_IN_ATTRIBUTES,
        )
    if enforce_limits:
        if any(len(branch) > MAX_KEYS for branch in branches):
            raise _fail(f"Filter policy can not have more than {MAX_KEYS} keys")
        combinations = 0
        for branch in branches:
            product = 1
            for factor in branch:
                product *= factor
            combinations += product
        if compiler.overflow or combinations > MAX_COMBINATIONS:
            raise _fail("Filter policy is too complex")
        if compiler.wildcard_complexity > MAX_WILDCARD_COMPLEXITY:
            raise _fail(
                "Rule is too complex - try using fewer wildcard characters or fewer repeating "
                "character sequences after a wildcard character"
            )
    return FilterPolicy(scope, text, root, compiler.paths)
