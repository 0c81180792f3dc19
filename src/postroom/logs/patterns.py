"""CloudWatch Logs filter patterns: compile once, then match messages.

Three syntaxes, told apart by the first character:
- terms (anything else): ``ERROR``, ``"two words"``, ``-excluded``, ``?either ?or``,
  ``%regular expression%``; every plain term must occur and no ``-`` term may occur; each
  ``?`` opens an alternative (with the terms after it) of which one must hold.
  Matching is case-sensitive.
- JSON (``{ ... }``): ``$.a.b[0] = "x*"``, ``!=``, ``<``, ``>``, ``<=``, ``>=`` on numbers,
  ``IS NULL``, ``NOT EXISTS``, ``IS TRUE``, ``IS FALSE``, joined by ``&&`` / ``||`` with
  parentheses; string values may hold ``*`` wildcards or be ``%regular expressions%``;
  messages that are not JSON objects never match.
- space-delimited (``[ ... ]``): named fields, ``...`` for any number of fields, and
  conditions on fields (``status = 4*``, ``bytes > 1000``, joined by ``&&`` / ``||``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

Matcher = Callable[[str], bool]

_MISSING = object()
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class FilterPatternError(ValueError):
    """The pattern is not valid filter-pattern syntax."""


def compile_pattern(text: str | None) -> Matcher:
    """The matcher for ``text`` (None or blank: everything matches)."""
    text = (text or "").strip()
    if not text:
        return _everything
    if text.startswith("{"):
        return _compile_json(text)
    if text.startswith("["):
        return _compile_delimited(text)
    return _compile_terms(text)


def _everything(message: str) -> bool:
    return True


# -- terms -----------------------------------------------------------------------------------

_TERM = re.compile(r'\s*([?-]?)(?:"((?:[^"\\]|\\.)*)"|%([^%]*)%|([^\s"]+))')


def _compile_terms(text: str) -> Matcher:
    # A "?" term opens an alternative; the terms after it, up to the next "?", belong to it
    # (CDK's anyTermGroup writes `?"ERROR" "MainThread" ?"WARN" "Deadlock"`). Terms before
    # the first "?" must hold in any case.
    leading: list[tuple[Callable[[str], bool], bool]] = []
    alternatives: list[list[tuple[Callable[[str], bool], bool]]] = []
    current = leading
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TERM.match(text, pos)
        if match is None or match.end() == pos:
            raise FilterPatternError(f"Invalid filter pattern near: {text[pos:].strip()}")
        prefix, quoted, regex, bare = match.groups()
        if regex is not None:
            try:
                check = re.compile(regex).search
            except re.error as exc:
                raise FilterPatternError(f"Invalid regular expression: {regex}") from exc
            test: Callable[[str], bool] = lambda m, c=check: c(m) is not None  # noqa: E731
        else:
            term = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
            if not term:
                raise FilterPatternError("Empty term in filter pattern")
            test = lambda m, t=term: t in m  # noqa: E731
        if prefix == "?":
            current = []
            alternatives.append(current)
        current.append((test, prefix == "-"))
        pos = match.end()

    def holds(terms: list[tuple[Callable[[str], bool], bool]], message: str) -> bool:
        return all(test(message) is not excluded for test, excluded in terms)

    def matches(message: str) -> bool:
        if not holds(leading, message):
            return False
        return not alternatives or any(holds(group, message) for group in alternatives)

    return matches


# -- JSON ------------------------------------------------------------------------------------

_JSON_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\))'
    r"|(?P<word>[^\s()=!<>&|\"]+))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        match = _JSON_TOKEN.match(text, pos)
        if match is None:
            raise FilterPatternError(f"Invalid filter pattern near: {text[pos:].strip()}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    """Recursive descent over tokens: or := and ('||' and)*; and := unary ('&&' unary)*."""

    def __init__(self, tokens: list[tuple[str, str]], comparison: Callable[[_Parser], Any]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.comparison = comparison

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise FilterPatternError("Unexpected end of filter pattern")
        self.pos += 1
        return token

    def expression(self) -> Callable[[Any], bool]:
        left = self.conjunction()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.conjunction()
            left = (lambda a, b: lambda v: a(v) or b(v))(left, right)
        return left

    def conjunction(self) -> Callable[[Any], bool]:
        left = self.unary()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.unary()
            left = (lambda a, b: lambda v: a(v) and b(v))(left, right)
        return left

    def unary(self) -> Callable[[Any], bool]:
        if self.peek() == ("op", "("):
            self.take()
            inner = self.expression()
            if self.take() != ("op", ")"):
                raise FilterPatternError("Unbalanced parentheses in filter pattern")
            return inner
        return self.comparison(self)

    def done(self) -> None:
        if self.peek() is not None:
            raise FilterPatternError(f"Unexpected {self.peek()[1]!r} in filter pattern")  # type: ignore[index]


_SELECTOR_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


def _selector(text: str) -> list[str | int]:
    if not text.startswith("$"):
        raise FilterPatternError(f"Invalid selector {text!r}: selectors start with $")
    path: list[str | int] = []
    pos = 1
    while pos < len(text):
        match = _SELECTOR_PART.match(text, pos)
        if match is None:
            raise FilterPatternError(f"Invalid selector {text!r}")
        path.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        pos = match.end()
    return path


def _lookup(document: Any, path: list[str | int]) -> Any:
    for step in path:
        if isinstance(step, int):
            if not isinstance(document, list) or step >= len(document):
                return _MISSING
            document = document[step]
        else:
            if not isinstance(document, dict) or step not in document:
                return _MISSING
            document = document[step]
    return document


def _value_test(op: str, token: tuple[str, str]) -> Callable[[Any], bool]:
    """The test a field value must pass for ``op`` against the pattern's value token."""
    kind, raw = token
    if kind == "word" and _NUMBER.match(raw):
        number = float(raw)
        compare = _NUMERIC[op]
        return lambda v: isinstance(v, int | float) and not isinstance(v, bool) and compare(v, number)
    if kind == "word" and len(raw) > 1 and raw.startswith("%") and raw.endswith("%"):
        if op not in ("=", "!="):
            raise FilterPatternError(f"Operator {op} cannot take a regular expression")
        try:
            search = re.compile(raw[1:-1]).search
        except re.error as exc:
            raise FilterPatternError(f"Invalid regular expression: {raw}") from exc
        wanted = op == "="
        return lambda v: isinstance(v, str) and (search(v) is not None) is wanted
    if kind == "str":
        raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
    elif kind != "word":
        raise FilterPatternError(f"Expected a value after {op}")
    if op not in ("=", "!="):
        raise FilterPatternError(f"Operator {op} needs a numeric value")
    equal = _wildcard(raw)
    if op == "=":
        return lambda v: isinstance(v, str) and equal(v)
    return lambda v: isinstance(v, str) and not equal(v)


def _wildcard(text: str) -> Callable[[str], bool]:
    if "*" not in text:
        return lambda v: v == text
    regex = re.compile("".join(".*" if c == "*" else re.escape(c) for c in text), re.DOTALL)
    return lambda v: regex.fullmatch(v) is not None


_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}
_IS = {
    ("IS", "NULL"): lambda v: v is None,
    ("IS", "TRUE"): lambda v: v is True,
    ("IS", "FALSE"): lambda v: v is False,
    ("NOT", "EXISTS"): lambda v: v is _MISSING,
}


def _json_comparison(parser: _Parser) -> Callable[[Any], bool]:
    kind, raw = parser.take()
    if kind != "word":
        raise FilterPatternError(f"Expected a selector, found {raw!r}")
    path = _selector(raw)
    kind, raw = parser.take()
    if kind == "word":
        second = parser.take()[1]
        test = _IS.get((raw.upper(), second.upper()))
        if test is None:
            raise FilterPatternError(f"Unknown operator {raw} {second}")
        return lambda doc: test(_lookup(doc, path))
    if kind != "op" or raw not in _NUMERIC:
        raise FilterPatternError(f"Expected an operator, found {raw!r}")
    value_test = _value_test(raw, parser.take())
    return lambda doc: (v := _lookup(doc, path)) is not _MISSING and value_test(v)


def _compile_json(text: str) -> Matcher:
    if not text.endswith("}"):
        raise FilterPatternError("A JSON filter pattern must end with }")
    parser = _Parser(_tokens(text[1:-1]), _json_comparison)
    test = parser.expression()
    parser.done()

    def matches(message: str) -> bool:
        if not message.lstrip().startswith("{"):
            return False
        try:
            document = orjson.loads(message)
        except orjson.JSONDecodeError:
            return False
        return isinstance(document, dict) and test(document)

    return matches


# -- space-delimited -------------------------------------------------------------------------

_EVENT_WORD = re.compile(r'"([^"]*)"|\[([^\]]*)\]|(\S+)')
_ELLIPSIS = "..."


def _delimited_comparison(parser: _Parser) -> Callable[[Any], bool]:
    kind, name = parser.take()
    if kind != "word":
        raise FilterPatternError(f"Expected a field name, found {name!r}")
    kind, op = parser.take()
    if kind != "op" or op not in _NUMERIC:
        raise FilterPatternError(f"Expected an operator after {name}")
    value_token = parser.take()
    kind, raw = value_token
    if kind == "word" and _NUMBER.match(raw):
        number, compare = float(raw), _NUMERIC[op]

        def numeric(fields: dict[str, str]) -> bool:
            value = fields.get(name)
            return value is not None and bool(_NUMBER.match(value)) and compare(float(value), number)

        return numeric
    test = _value_test(op, value_token)
    return lambda fields: name in fields and test(fields[name])


def _split_fields(body: str) -> list[str]:
    """Split on commas outside quotes."""
    fields, current, quoted = [], [], False
    for char in body:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            fields.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    fields.append("".join(current).strip())
    return fields


def _compile_delimited(text: str) -> Matcher:
    if not text.endswith("]"):
        raise FilterPatternError("A space-delimited filter pattern must end with ]")
    names: list[str] = []
    conditions: list[Callable[[dict[str, str]], bool]] = []
    for spec in _split_fields(text[1:-1]):
        if not spec:
            raise FilterPatternError("Empty field in filter pattern")
        if spec == _ELLIPSIS:
            names.append(_ELLIPSIS)
            continue
        name = re.match(r"[^\s=!<>&|()]+", spec)
        if name is None:
            raise FilterPatternError(f"Invalid field {spec!r}")
        if name.end() == len(spec):
            names.append(name.group(0))
            continue
        # A field with conditions: "status = 4* || status = 5*".
        names.append(name.group(0))
        parser = _Parser(_tokens(spec), _delimited_comparison)
        conditions.append(parser.expression())
        parser.done()

    def matches(message: str) -> bool:
        words = [m.group(1) if m.group(1) is not None else m.group(2) if m.group(2) is not None
                 else m.group(3) for m in _EVENT_WORD.finditer(message)]
        fields = _bind(names, words)
        return fields is not None and all(c(fields) for c in conditions)

    return matches


def _bind(names: list[str], words: list[str]) -> dict[str, str] | None:
    """Assign words to named fields; ``...`` takes any number. None if they cannot fit."""
    if _ELLIPSIS not in names:
        return dict(zip(names, words, strict=True)) if len(names) == len(words) else None
    split = names.index(_ELLIPSIS)
    head, tail = names[:split], names[split + 1:]
    if len(head) > len(words):
        return None
    fields = dict(zip(head, words, strict=False))
    rest = words[len(head):]
    if _ELLIPSIS in tail:
        # Later ellipses: try each amount for this one (patterns are short).
        for skip in range(len(rest) + 1):
            bound = _bind(tail, rest[skip:])
            if bound is not None:
                return {**fields, **bound}
        return None
    if len(tail) > len(rest):
        return None
    fields.update(zip(tail, rest[len(rest) - len(tail):], strict=True))
    return fields
