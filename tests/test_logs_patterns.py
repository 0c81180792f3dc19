"""The CloudWatch Logs filter-pattern matcher, in process (AWS's documented examples)."""

from __future__ import annotations

import pytest

from postroom.logs.patterns import FilterPatternError, compile_pattern

JSON_EVENT = (
    '{"eventType": "UpdateTrail", "sourceIPAddress": "123.123.123.123", "latency": 50,'
    ' "arrayKey": ["value", "another value"], "objectList": [{"name": "a", "id": 1},'
    ' {"name": "b", "id": 2}], "SomeObject": null, "ThisFlag": true, "cost": 1.5,'
    ' "user": {"name": "alice", "roles": ["admin"]}}'
)


@pytest.mark.parametrize("pattern, message, expected", [
    ("", "anything", True),
    ("   ", "anything", True),
    ("ERROR", "[ERROR] disk full", True),
    ("ERROR", "[error] disk full", False),  # case-sensitive
    ("ERROR disk", "[ERROR] disk full", True),  # every term
    ("ERROR memory", "[ERROR] disk full", False),
    ('"disk full"', "[ERROR] disk full", True),  # quoted phrase
    ('"full disk"', "[ERROR] disk full", False),
    ("ERROR -disk", "[ERROR] disk full", False),  # exclusion
    ("ERROR -memory", "[ERROR] disk full", True),
    ("?ERROR ?WARN", "WARN low disk", True),  # OR terms
    ("?ERROR ?WARN", "INFO all fine", False),
    ('?"disk full" ?timeout', "request timeout", True),
    # "?" opens a group: the terms after it belong to it (CDK's anyTermGroup).
    ('?"ERROR" "disk" ?"WARN" "memory"', "[ERROR] disk full", True),
    ('?"ERROR" "disk" ?"WARN" "memory"', "[WARN] disk almost full", False),
    ('?"ERROR" "disk" ?"WARN" "memory"', "[WARN] memory low", True),
    ("?ERROR -disk ?WARN", "[ERROR] disk full", False),
    ("?ERROR -disk ?WARN", "[WARN] disk full", True),
    ("full ?ERROR ?WARN", "[INFO] disk full", False),  # leading terms hold for every group
    ("full ?ERROR ?WARN", "[WARN] disk full", True),
    ("%ERR[0-9]+%", "code ERR42 seen", True),  # regular expression
    ("%ERR[0-9]+%", "code ERRx seen", False),
    ('"Exception: \\"quoted\\""', 'Exception: "quoted" here', True),
])
def test_term_patterns(pattern, message, expected):
    assert compile_pattern(pattern)(message) is expected


@pytest.mark.parametrize("pattern, expected", [
    ('{ $.eventType = "UpdateTrail" }', True),
    ('{ $.eventType = "Update*" }', True),  # wildcard
    ('{ $.eventType = Update* }', True),  # unquoted value
    ('{ $.eventType != "UpdateTrail" }', False),
    ('{ $.sourceIPAddress != 123.123.* }', False),
    ('{ $.sourceIPAddress = 123.123.* }', True),
    ("{ $.latency = 50 }", True),
    ("{ $.latency != 50 }", False),
    ("{ $.latency > 49 }", True),
    ("{ $.latency < 50 }", False),
    ("{ $.latency <= 50 }", True),
    ("{ $.latency >= 51 }", False),
    ("{ $.cost = 1.5 }", True),
    ("{ $.cost > 1.25e0 }", True),
    ('{ $.arrayKey[0] = "value" }', True),
    ('{ $.arrayKey[1] = "another value" }', True),
    ('{ $.arrayKey[2] = "value" }', False),
    ('{ $.objectList[1].name = "b" }', True),
    ("{ $.objectList[1].id = 1 }", False),
    ('{ $.user.name = "alice" }', True),
    ('{ $.user.roles[0] = "admin" }', True),
    ("{ $.SomeObject IS NULL }", True),
    ("{ $.latency IS NULL }", False),
    ("{ $.missing NOT EXISTS }", True),
    ("{ $.latency NOT EXISTS }", False),
    ("{ $.ThisFlag IS TRUE }", True),
    ("{ $.ThisFlag IS FALSE }", False),
    ('{ $.missing = "x" }', False),
    ('{ $.eventType = "UpdateTrail" && $.latency > 100 }', False),
    ('{ $.eventType = "UpdateTrail" || $.latency > 100 }', True),
    ('{ ($.latency > 100 || $.cost < 2) && $.user.name = "alice" }', True),
    ('{ $.latency > 100 || ($.cost < 2 && $.user.name = "bob") }', False),
    # && binds tighter than ||
    ('{ $.latency = 50 || $.cost = 9 && $.user.name = "bob" }', True),
    ('{ $.latency = 50 && $.cost = 9 || $.user.name = "bob" }', False),
    ('{ $.latency = "50" }', False),  # string compare against a number
    ("{ $.eventType = %^Update% }", True),  # regular expressions in JSON patterns
    ("{ $.eventType != %Trail$% }", False),
    ("{ $.user.name = %^b% }", False),
    ("{ $.eventType > 5 }", False),  # numeric compare against a string
])
def test_json_patterns(pattern, expected):
    assert compile_pattern(pattern)(JSON_EVENT) is expected


def test_json_pattern_ignores_non_json_messages():
    match = compile_pattern('{ $.level = "ERROR" }')
    assert match('{"level": "ERROR"}')
    assert not match("level ERROR")
    assert not match('{"level": "ERROR"')  # truncated JSON
    assert not match('["ERROR"]')


@pytest.mark.parametrize("pattern, expected", [
    ("[ip, user, username, timestamp, request, status_code, bytes]", True),
    ("[ip, user, username, timestamp, request, status_code = 404, bytes]", True),
    ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", True),
    ("[ip, user, username, timestamp, request, status_code = 200, bytes]", False),
    ("[ip, user, username, timestamp, request, status_code, bytes > 1000]", True),
    ("[ip, user, username, timestamp, request, status_code, bytes < 1000]", False),
    ('[ip = "127.0.0.1", ...]', True),
    ('[ip != 127.0.0.1, ...]', False),
    ('[..., request = "GET*", status_code, bytes]', True),
    ("[..., status_code = 404 || status_code = 500, bytes]", True),
    ("[ip, user = %^fr%, ...]", True),
    ("[..., status_code >= 400 && status_code < 404, bytes]", False),
    ("[ip, user, ...]", True),
    ("[ip, user]", False),  # field count must match without an ellipsis
])
def test_space_delimited_patterns(pattern, expected):
    message = '127.0.0.1 frank alice [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'
    assert compile_pattern(pattern)(message) is expected


@pytest.mark.parametrize("pattern", [
    '"unterminated',
    "{ $.a = }",
    "{ $.a == 1 }",
    "{ a = 1 }",
    '{ $.a > "x" }',
    "{ ($.a = 1 }",
    "{ $.a IS MAYBE }",
    "{ $.a = 1",
    "[a, b = ]",
    "[a, b",
    "%(unclosed%",
])
def test_invalid_patterns(pattern):
    with pytest.raises(FilterPatternError):
        compile_pattern(pattern)
