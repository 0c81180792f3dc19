"""Direct tests of postroom.filters.policy (SNS subscription filter policies).

Examples come from SPEC.md ("Filter policies") and from AWS's SNS developer guide pages on
filter policies (string, numeric, key and IP matching, AND/OR logic, constraints).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from postroom.filters import (
    SCOPE_ATTRIBUTES,
    SCOPE_BODY,
    FilterPolicy,
    FilterPolicyError,
    parse_filter_policy,
)


def policy(obj: Any, scope: str = SCOPE_ATTRIBUTES, **kwargs: Any) -> FilterPolicy:
    return parse_filter_policy(json.dumps(obj), scope, **kwargs)


def body_policy(obj: Any) -> FilterPolicy:
    return policy(obj, SCOPE_BODY)


def S(value: str) -> dict[str, str]:
    return {"Type": "String", "Value": value}


def N(value: str) -> dict[str, str]:
    return {"Type": "Number", "Value": value}


def A(values: list[Any]) -> dict[str, str]:
    return {"Type": "String.Array", "Value": json.dumps(values)}


def B() -> dict[str, str]:
    return {"Type": "Binary", "Value": "AAEC"}


def body(obj: Any) -> str:
    return json.dumps(obj)


def error_of(obj: Any, scope: str = SCOPE_ATTRIBUTES) -> str:
    text = obj if isinstance(obj, str) else json.dumps(obj)
    with pytest.raises(FilterPolicyError) as info:
        parse_filter_policy(text, scope)
    return str(info.value)


def reason_of(obj: Any, scope: str = SCOPE_ATTRIBUTES) -> str:
    message = error_of(obj, scope)
    prefix = "Invalid parameter: FilterPolicy: "
    assert message.startswith(prefix), message
    return message[len(prefix) :]


# --------------------------------------------------------------------------- SPEC.md examples


def test_spec_exact_string():
    p = policy({"sport": ["rugby"]})
    assert p.matches_attributes({"sport": S("rugby")})
    assert not p.matches_attributes({"sport": S("baseball")})
    assert not p.matches_attributes({"sport": S("Rugby")})
    assert not p.matches_attributes({})


def test_spec_anything_but():
    p = policy({"sport": [{"anything-but": "rugby"}]})
    assert p.matches_attributes({"sport": S("baseball")})
    assert not p.matches_attributes({"sport": S("rugby")})


def test_spec_prefix():
    p = policy({"sport": [{"prefix": "bas"}]})
    assert p.matches_attributes({"sport": S("baseball")})
    assert p.matches_attributes({"sport": S("basketball")})
    assert not p.matches_attributes({"sport": S("rugby")})


@pytest.mark.parametrize("value", ["301.5", "301.500", "3.015e2", "3.015E+2", "301.50000"])
def test_spec_numeric_equals(value):
    p = policy({"balance": [{"numeric": ["=", 301.5]}]})
    assert p.matches_attributes({"balance": N(value)})
    b = body_policy({"balance": [{"numeric": ["=", 301.5]}]})
    assert b.matches_body(f'{{"balance": {value}}}')


def test_spec_numeric_equals_rejects_other_numbers():
    p = policy({"balance": [{"numeric": ["=", 301.5]}]})
    assert not p.matches_attributes({"balance": N("301.6")})
    assert not p.matches_attributes({"balance": N("-301.5")})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("-1", False),
        ("0", False),
        ("0.00001", True),
        ("1", True),
        ("149.99999", True),
        ("150", True),
        ("150.00001", False),
        ("151", False),
    ],
)
def test_spec_numeric_range(value, expected):
    p = policy({"balance": [{"numeric": [">", 0, "<=", 150]}]})
    assert p.matches_attributes({"balance": N(value)}) is expected


def test_spec_and_across_keys():
    p = policy({"sport": ["rugby"], "language": ["English"]})
    assert p.matches_attributes({"sport": S("rugby"), "language": S("English")})
    assert not p.matches_attributes({"sport": S("rugby")})
    assert not p.matches_attributes({"language": S("English")})
    assert not p.matches_attributes({"sport": S("rugby"), "language": S("French")})


# --------------------------------------------------------------------------- string matching


def test_or_within_a_key_and_string_array():
    p = policy({"customer_interests": ["rugby", "tennis"]})
    assert p.matches_attributes({"customer_interests": S("rugby")})
    assert p.matches_attributes({"customer_interests": S("tennis")})
    assert p.matches_attributes({"customer_interests": A(["rugby", "tennis"])})
    assert p.matches_attributes({"customer_interests": A(["soccer", "tennis"])})
    assert not p.matches_attributes({"customer_interests": S("baseball")})
    assert not p.matches_attributes({"customer_interests": A(["baseball"])})
    assert not p.matches_attributes({"customer_interests": A([])})


def test_string_array_value_is_not_matched_as_one_string():
    p = policy({"tags": ['["a"]']})
    assert not p.matches_attributes({"tags": A(["a"])})


def test_invalid_string_array_is_matched_as_a_plain_string():
    p = policy({"tags": ["not json"]})
    assert p.matches_attributes({"tags": {"Type": "String.Array", "Value": "not json"}})


def test_publish_input_form_is_accepted():
    p = policy({"sport": ["rugby"], "price": [10]})
    attributes = {
        "sport": {"DataType": "String", "StringValue": "rugby"},
        "price": {"DataType": "Number", "StringValue": "10.0"},
    }
    assert p.matches_attributes(attributes)


def test_custom_type_suffixes():
    p = policy({"sport": ["rugby"], "price": [10]})
    assert p.matches_attributes(
        {"sport": {"Type": "String.custom", "Value": "rugby"}, "price": N("10")}
    )
    assert p.matches_attributes(
        {"sport": S("rugby"), "price": {"DataType": "Number.int", "StringValue": "10"}}
    )


def test_bare_string_attributes_are_strings():
    p = policy({"sport": ["rugby"]})
    assert p.matches_attributes({"sport": "rugby"})
    assert not p.matches_attributes({"sport": "chess"})


def test_strings_and_numbers_do_not_mix():
    number = policy({"price": [100]})
    assert number.matches_attributes({"price": N("100")})
    assert number.matches_attributes({"price": N("100.0")})
    assert not number.matches_attributes({"price": S("100")})
    string = policy({"price": ["100"]})
    assert string.matches_attributes({"price": S("100")})
    assert not string.matches_attributes({"price": N("100")})
    numeric = policy({"price": [{"numeric": [">", 1]}]})
    assert not numeric.matches_attributes({"price": S("100")})
    prefix = policy({"price": [{"prefix": "1"}]})
    assert not prefix.matches_attributes({"price": N("100")})


def test_string_array_elements_keep_their_json_types():
    p = policy({"ids": [{"numeric": [">=", 10]}]})
    assert p.matches_attributes({"ids": A([1, 2, 30])})
    assert not p.matches_attributes({"ids": A([1, 2, "30"])})


def test_number_array_attribute():
    p = policy({"price": [{"anything-but": [100, 500]}]})
    assert p.matches_attributes({"price": {"Type": "Number.Array", "Value": "[100, 50]"}})
    assert not p.matches_attributes({"price": {"Type": "Number.Array", "Value": "[100, 500]"}})


def test_suffix():
    p = policy({"customer_interests": [{"suffix": "ball"}]})
    assert p.matches_attributes({"customer_interests": S("baseball")})
    assert p.matches_attributes({"customer_interests": S("basketball")})
    assert not p.matches_attributes({"customer_interests": S("rugby")})
    b = body_policy({"customer_interests": [{"suffix": "ball"}]})
    assert b.matches_body(body({"customer_interests": "basketball"}))
    assert not b.matches_body(body({"customer_interests": "rugby"}))


def test_equals_ignore_case():
    p = policy({"customer_interests": [{"equals-ignore-case": "tennis"}]})
    for value in ("TENNIS", "Tennis", "teNnis", "tennis"):
        assert p.matches_attributes({"customer_interests": S(value)})
    assert not p.matches_attributes({"customer_interests": S("tennis ")})
    b = body_policy({"customer_interests": [{"equals-ignore-case": "tennis"}]})
    assert b.matches_body(body({"customer_interests": "TENNIS"}))


def test_prefix_and_suffix_ignoring_case():
    p = policy({"file": [{"prefix": {"equals-ignore-case": "IMG_"}}]})
    assert p.matches_attributes({"file": S("img_001.png")})
    assert not p.matches_attributes({"file": S("doc_001.png")})
    s = policy({"file": [{"suffix": {"equals-ignore-case": ".PNG"}}]})
    assert s.matches_attributes({"file": S("photo.png")})
    assert not s.matches_attributes({"file": S("photo.jpg")})


def test_mixed_values_in_one_list():
    p = policy({"sport": ["rugby", {"prefix": "bas"}, {"suffix": "ey"}]})
    assert p.matches_attributes({"sport": S("rugby")})
    assert p.matches_attributes({"sport": S("basketball")})
    assert p.matches_attributes({"sport": S("hockey")})
    assert not p.matches_attributes({"sport": S("tennis")})


def test_special_characters_in_values():
    p = policy({"quote": ['say "hi" \\ bye']})
    assert p.matches_attributes({"quote": S('say "hi" \\ bye')})
    assert not p.matches_attributes({"quote": S("say hi bye")})


# --------------------------------------------------------------------------- anything-but


def test_anything_but_list_of_strings():
    p = policy({"customer_interests": [{"anything-but": ["rugby", "tennis"]}]})
    assert p.matches_attributes({"customer_interests": S("baseball")})
    assert p.matches_attributes({"customer_interests": S("football")})
    assert p.matches_attributes({"customer_interests": A(["rugby", "baseball"])})
    assert not p.matches_attributes({"customer_interests": S("rugby")})
    assert not p.matches_attributes({"customer_interests": A(["rugby"])})
    assert not p.matches_attributes({"customer_interests": A(["rugby", "tennis"])})
    b = body_policy({"customer_interests": [{"anything-but": ["rugby", "tennis"]}]})
    assert b.matches_body(body({"customer_interests": "baseball"}))
    assert b.matches_body(body({"customer_interests": ["rugby", "baseball"]}))
    assert not b.matches_body(body({"customer_interests": ["rugby"]}))


def test_anything_but_numbers():
    p = policy({"price": [{"anything-but": [100, 500]}]})
    assert p.matches_attributes({"price": N("101")})
    assert p.matches_attributes({"price": N("100.1")})
    assert not p.matches_attributes({"price": N("100")})
    assert not p.matches_attributes({"price": N("1e2")})
    assert not p.matches_attributes({"price": N("500.000")})
    b = body_policy({"price": [{"anything-but": [100, 500]}]})
    assert b.matches_body(body({"price": 101}))
    assert b.matches_body(body({"price": [100, 50]}))
    assert not b.matches_body(body({"price": 100}))
    single = policy({"price": [{"anything-but": 100}]})
    assert single.matches_attributes({"price": N("99")})
    assert not single.matches_attributes({"price": N("100")})


def test_anything_but_needs_a_value():
    p = policy({"sport": [{"anything-but": "rugby"}]})
    assert not p.matches_attributes({})
    assert not p.matches_attributes({"other": S("x")})
    b = body_policy({"sport": [{"anything-but": "rugby"}]})
    assert not b.matches_body(body({"other": "x"}))
    assert not b.matches_body(body({"sport": None}))


def test_anything_but_combined_with_exists_false():
    p = policy({"sport": [{"anything-but": "rugby"}, {"exists": False}]})
    assert p.matches_attributes({"sport": S("chess")})
    assert p.matches_attributes({"other": S("x")})
    assert not p.matches_attributes({"sport": S("rugby")})


def test_anything_but_prefix():
    p = policy({"event": [{"anything-but": {"prefix": "order-"}}]})
    assert p.matches_attributes({"event": S("data-entry")})
    assert p.matches_attributes({"event": S("order_number")})
    assert not p.matches_attributes({"event": S("order-cancelled")})
    b = body_policy({"event": [{"anything-but": {"prefix": "order-"}}]})
    assert b.matches_body(body({"event": "data-entry"}))
    assert not b.matches_body(body({"event": "order-cancelled"}))


def test_anything_but_suffix():
    p = policy({"customer_interests": [{"anything-but": {"suffix": "ball"}}]})
    assert p.matches_attributes({"customer_interests": A(["hockey", "rugby", "soccer"])})
    assert not p.matches_attributes({"customer_interests": A(["baseball", "basketball"])})


def test_anything_but_wildcard_and_ignore_case():
    p = policy({"customer_interests": [{"anything-but": {"wildcard": "*ball"}}]})
    assert p.matches_attributes({"customer_interests": A(["hockey", "rugby", "soccer"])})
    assert not p.matches_attributes({"customer_interests": A(["baseball", "basketball"])})
    q = policy({"sport": [{"anything-but": {"equals-ignore-case": ["RUGBY", "Chess"]}}]})
    assert q.matches_attributes({"sport": S("tennis")})
    assert not q.matches_attributes({"sport": S("rugby")})
    assert not q.matches_attributes({"sport": S("CHESS")})


def test_anything_but_prefix_list():
    p = policy({"event": [{"anything-but": {"prefix": ["order-", "cart-"]}}]})
    assert p.matches_attributes({"event": S("user-created")})
    assert not p.matches_attributes({"event": S("cart-emptied")})


# --------------------------------------------------------------------------- numeric


@pytest.mark.parametrize(
    ("condition", "matching", "not_matching"),
    [
        (["<", 0], ["-1", "-0.00001", "-1e9"], ["0", "1"]),
        (["<=", 0], ["0", "-5"], ["0.00001", "5"]),
        ([">", 10], ["10.00001", "11", "1e9"], ["10", "9"]),
        ([">=", 10], ["10", "10.5"], ["9.99999"]),
        ([">=", -5, "<", 5], ["-5", "0", "4.99999"], ["5", "-5.00001"]),
        ([">", -5, "<=", 5], ["5", "-4.99999"], ["-5", "5.00001"]),
        (["=", 0], ["0", "-0", "0.000000", "0e5"], ["0.00001"]),
        (["=", -1000000000], ["-1e9", "-1000000000.000"], ["-999999999.99999"]),
    ],
)
def test_numeric_operators(condition, matching, not_matching):
    p = policy({"n": [{"numeric": condition}]})
    b = body_policy({"n": [{"numeric": condition}]})
    for value in matching:
        assert p.matches_attributes({"n": N(value)}), (condition, value)
        assert b.matches_body(f'{{"n": {value}}}'), (condition, value)
    for value in not_matching:
        assert not p.matches_attributes({"n": N(value)}), (condition, value)
        assert not b.matches_body(f'{{"n": {value}}}'), (condition, value)


def test_numeric_or_of_ranges():
    p = policy({"price": [{"numeric": [">=", 100, "<=", 200]}, {"numeric": [">", 300]}]})
    assert p.matches_attributes({"price": N("150")})
    assert p.matches_attributes({"price": N("301")})
    assert not p.matches_attributes({"price": N("250")})


def test_exact_number_values():
    p = policy({"price": [301.5, 7]})
    for value in ("301.5", "301.500", "3.015e2", "7", "7.0", "0.7e1"):
        assert p.matches_attributes({"price": N(value)}), value
    assert not p.matches_attributes({"price": N("8")})
    b = body_policy({"price": [301.5]})
    assert b.matches_body('{"price": 3.015e2}')
    assert b.matches_body('{"price": 301.500}')
    assert not b.matches_body('{"price": "301.5"}')


def test_numbers_compare_to_five_decimal_digits():
    p = policy({"n": [{"numeric": ["=", 1.5]}]})
    assert p.matches_attributes({"n": N("1.500001")})
    assert not p.matches_attributes({"n": N("1.50001")})


def test_policy_numbers_with_more_decimals_are_accepted():
    # AWS documents "five digits of accuracy after the decimal point", not a rejection.
    p = policy({"price": [{"numeric": ["=", 100.123456789]}], "exact": [0.1234567]})
    assert p.matches_attributes({"price": N("100.1234567"), "exact": N("0.12346")})


def test_message_numbers_beyond_the_range_match_no_numeric_condition():
    p = policy({"n": [{"numeric": [">", 0]}]})
    assert p.matches_attributes({"n": N("1000000000")})
    assert not p.matches_attributes({"n": N("1000000000.00001")})
    assert not p.matches_attributes({"n": N("1e12")})
    assert not p.matches_attributes({"n": N("NaN")})


def test_large_exact_number_matches_only_itself():
    p = policy({"account": [123456789012]})
    assert p.matches_attributes({"account": N("123456789012")})
    assert p.matches_attributes({"account": N("1.23456789012e11")})
    assert not p.matches_attributes({"account": N("123456789013")})


# --------------------------------------------------------------------------- exists


def test_exists_true():
    p = policy({"store": [{"exists": True}]})
    assert p.matches_attributes(
        {"store": S("fans"), "customer_interests": A(["baseball", "basketball"])}
    )
    assert p.matches_attributes({"store": N("99")})
    assert not p.matches_attributes({"customer_interests": A(["baseball", "basketball"])})
    assert not p.matches_attributes({})


def test_exists_false():
    p = policy({"store": [{"exists": False}]})
    assert not p.matches_attributes(
        {"store": S("fans"), "customer_interests": A(["baseball", "basketball"])}
    )
    assert p.matches_attributes({"customer_interests": A(["baseball", "basketball"])})
    # "exists": false only matches when at least one attribute is present.
    assert not p.matches_attributes({})
    assert not p.matches_attributes(None)


def test_binary_attributes_are_ignored():
    p = policy({"blob": [{"exists": True}]})
    assert not p.matches_attributes({"blob": B()})
    q = policy({"blob": [{"exists": False}]})
    assert q.matches_attributes({"blob": B(), "other": S("x")})
    assert not q.matches_attributes({"blob": B()})
    r = policy({"blob": ["AAEC"]})
    assert not r.matches_attributes({"blob": B()})


def test_exists_in_body():
    p = body_policy({"store": [{"exists": True}]})
    assert p.matches_body(body({"store": "fans", "customer_interests": ["baseball"]}))
    assert p.matches_body(body({"store": 0}))
    assert p.matches_body(body({"store": ["x"]}))
    assert not p.matches_body(body({"customer_interests": ["baseball", "basketball"]}))
    # The key must have a non-null, non-empty value, and exists works on leaves only.
    assert not p.matches_body(body({"store": None}))
    assert not p.matches_body(body({"store": []}))
    assert not p.matches_body(body({"store": {"name": "fans"}}))
    q = body_policy({"store": [{"exists": False}]})
    assert q.matches_body(body({"customer_interests": ["baseball", "basketball"]}))
    assert not q.matches_body(body({"store": "fans"}))
    assert q.matches_body(body({"store": None}))
    assert not q.matches_body(body({}))


def test_exists_on_nested_leaf():
    p = body_policy({"detail": {"id": [{"exists": True}]}})
    assert p.matches_body(body({"detail": {"id": "x"}}))
    assert not p.matches_body(body({"detail": {"other": "x"}}))
    assert not p.matches_body(body({"detail": "id"}))


# --------------------------------------------------------------------------- null and booleans


def test_null_and_booleans_in_body():
    p = body_policy({"flag": [True], "missing": [None]})
    assert p.matches_body(body({"flag": True, "missing": None}))
    assert not p.matches_body(body({"flag": False, "missing": None}))
    assert not p.matches_body(body({"flag": True}))
    assert not p.matches_body(body({"flag": "true", "missing": None}))


def test_null_never_matches_an_attribute():
    p = policy({"attr1": [None, {"anything-but": "whatever"}]})
    assert not p.matches_attributes({})
    assert p.matches_attributes({"attr1": S("x")})
    assert not p.matches_attributes({"attr1": S("whatever")})


# --------------------------------------------------------------------------- cidr


def test_cidr_ipv4():
    p = policy({"source_ip": [{"cidr": "10.0.0.0/24"}]})
    assert p.matches_attributes({"source_ip": S("10.0.0.0")})
    assert p.matches_attributes({"source_ip": S("10.0.0.255")})
    assert not p.matches_attributes({"source_ip": S("10.1.1.0")})
    assert not p.matches_attributes({"source_ip": S("not an ip")})
    assert not p.matches_attributes({"source_ip": S("::ffff:10.0.0.1")})
    b = body_policy({"source_ip": [{"cidr": "10.0.0.0/24"}]})
    assert b.matches_body(body({"source_ip": "10.0.0.255"}))
    assert not b.matches_body(body({"source_ip": "10.1.1.0"}))


def test_cidr_with_host_bits_and_single_host():
    p = policy({"ip": [{"cidr": "192.168.1.77/16"}, {"cidr": "8.8.8.8/32"}]})
    assert p.matches_attributes({"ip": S("192.168.200.1")})
    assert p.matches_attributes({"ip": S("8.8.8.8")})
    assert not p.matches_attributes({"ip": S("8.8.8.9")})


def test_cidr_ipv6():
    p = policy({"ip": [{"cidr": "2001:db8::/32"}]})
    assert p.matches_attributes({"ip": S("2001:db8::1")})
    assert p.matches_attributes({"ip": S("2001:0db8:ffff:ffff:ffff:ffff:ffff:ffff")})
    assert not p.matches_attributes({"ip": S("2001:db9::1")})
    assert not p.matches_attributes({"ip": S("10.0.0.1")})
    everything = policy({"ip": [{"cidr": "::/0"}]})
    assert everything.matches_attributes({"ip": S("fe80::1")})
    assert not everything.matches_attributes({"ip": S("127.0.0.1")})


# --------------------------------------------------------------------------- wildcard


def test_wildcard():
    p = policy({"customer_interests": [{"wildcard": "*ball"}]})
    assert p.matches_attributes({"customer_interests": A(["baseball", "basketball"])})
    assert not p.matches_attributes({"customer_interests": S("balloon")})
    q = policy({"name": [{"wildcard": "a*b*c"}]})
    for value in ("abc", "a-b-c", "aXbYbZc", "abbc"):
        assert q.matches_attributes({"name": S(value)}), value
    for value in ("ab", "acb", "xabc", "abcx"):
        assert not q.matches_attributes({"name": S(value)}), value


def test_wildcard_escapes():
    p = policy({"name": [{"wildcard": "a\\*b*"}]})
    assert p.matches_attributes({"name": S("a*b")})
    assert p.matches_attributes({"name": S("a*bcd")})
    assert not p.matches_attributes({"name": S("axb")})
    q = policy({"name": [{"wildcard": "c:\\\\*"}]})
    assert q.matches_attributes({"name": S("c:\\temp")})


# --------------------------------------------------------------------------- $or


OR_POLICY = {
    "source": ["aws.cloudwatch"],
    "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
}


def test_or_operator_on_attributes():
    p = policy(OR_POLICY)
    assert p.matches_attributes({"source": S("aws.cloudwatch"), "metricName": S("CPUUtilization")})
    assert p.matches_attributes({"source": S("aws.cloudwatch"), "namespace": S("AWS/EC2")})
    assert not p.matches_attributes({"source": S("aws.cloudwatch")})
    assert not p.matches_attributes({"source": S("aws.events"), "namespace": S("AWS/EC2")})
    assert not p.matches_attributes({"source": S("aws.cloudwatch"), "namespace": S("AWS/ES")})


def test_or_operator_on_body():
    p = body_policy(OR_POLICY)
    assert p.matches_body(body({"source": "aws.cloudwatch", "metricName": "CPUUtilization"}))
    assert p.matches_body(body({"source": "aws.cloudwatch", "namespace": "AWS/EC2"}))
    assert not p.matches_body(body({"source": "aws.cloudwatch"}))


def test_nested_or_inside_an_object():
    p = body_policy(
        {
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency"]},
                {"namespace": ["AWS/EC2", "AWS/ES"]},
            ],
            "detail": {
                "scope": ["Service"],
                "$or": [
                    {"source": ["aws.cloudwatch"]},
                    {"type": ["CloudWatch Alarm State Change"]},
                ],
            },
        }
    )
    passing = [
        {
            "metricName": "CPUUtilization",
            "detail": {"scope": "Service", "source": "aws.cloudwatch"},
        },
        {"metricName": "ReadLatency", "detail": {"scope": "Service", "source": "aws.cloudwatch"}},
        {"namespace": "AWS/EC2", "detail": {"scope": "Service", "source": "aws.cloudwatch"}},
        {
            "namespace": "AWS/ES",
            "detail": {"scope": "Service", "type": "CloudWatch Alarm State Change"},
        },
    ]
    failing = [
        {"metricName": "CPUUtilization", "detail": {"scope": "aws.cloudwatch", "type": "x"}},
        {"metricName": "CPUUtilization", "detail": {"scope": "Service", "type": "CPU"}},
        {"metricName": "CPUUtilization", "detail": {"type": "CloudWatch Alarm State Change"}},
        {"metricName": "CPUUtilization", "detail": {"scope": "Service"}},
        {"metricName": "CPUUtilization", "scope": "Service"},
        {"metricName": "AWS/EC2", "detail": {"scope": "Service", "source": "aws.cloudwatch"}},
    ]
    for message in passing:
        assert p.matches_body(body(message)), message
    for message in failing:
        assert not p.matches_body(body(message)), message


def test_or_inside_or():
    p = policy(
        {
            "source": ["aws.cloudwatch"],
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency"]},
                {
                    "metricType": ["MetricType"],
                    "$or": [{"metricId": [1234, 4321]}, {"spaceId": [1000, 2000, 3000]}],
                },
            ],
        }
    )
    base = {"source": S("aws.cloudwatch")}
    assert p.matches_attributes({**base, "metricName": S("ReadLatency")})
    assert p.matches_attributes({**base, "metricType": S("MetricType"), "spaceId": N("2000")})
    assert p.matches_attributes({**base, "metricType": S("MetricType"), "metricId": N("4321")})
    assert not p.matches_attributes({**base, "metricType": S("MetricType")})
    assert not p.matches_attributes({**base, "spaceId": N("2000")})


def test_or_that_is_not_an_or_is_a_key():
    # Fewer than two objects, or non-objects: "$or" is an ordinary attribute name.
    p = policy({"$or": ["a", "b"]})
    assert p.matches_attributes({"$or": S("a")})
    assert not p.matches_attributes({"x": S("a")})
    # Reserved keywords in the objects: not an OR, so they are match expressions.
    assert reason_of({"$or": [{"numeric": 123}, {"prefix": "abc"}]}) == (
        "Value of numeric must be an array."
    )
    assert reason_of({"$or": [{"metricName": ["CPUUtilization"]}]}) == (
        "Unrecognized match type metricName"
    )


# --------------------------------------------------------------------------- message body


def test_nested_body_policy():
    p = body_policy({"object": {"key": [{"prefix": "auto-"}]}})
    assert p.matches_body(body({"object": {"key": "auto-test"}}))
    assert not p.matches_body(body({"object": {"key": "home-test"}}))
    assert not p.matches_body(body({"key": "auto-test"}))


def test_dotted_keys_are_the_same_as_nesting():
    p = body_policy({"object": {"nested": ["string.value"]}})
    assert p.matches_body(body({"object": {"nested": "string.value"}}))
    assert p.matches_body(body({"object.nested": "string.value"}))
    assert not p.matches_body(body({"object": {"nested": "test-auto"}}))
    deep = body_policy({"object.nested.test": ["string.value"]})
    for message in (
        {"object": {"nested": {"test": "string.value"}}},
        {"object.nested.test": "string.value"},
        {"object.nested": {"test": "string.value"}},
        {"object": {"nested.test": "string.value"}},
    ):
        assert deep.matches_body(body(message)), message
    assert not deep.matches_body(body({"object": {"nested": {"test": "string.notvalue"}}}))


def test_arrays_in_body():
    p = body_policy({"headers": {"route-to": ["queue1"]}})
    assert p.matches_body(body({"headers": {"route-to": ["queue1"]}}))
    assert p.matches_body(body({"headers": {"route-to": ["queue1", "queue2"]}}))
    assert not p.matches_body(body({"headers": {"route-to": ["queue3"]}}))
    assert not p.matches_body(body({"headers": {"route-to": []}}))


def test_arrays_of_objects_in_body():
    p = body_policy(
        {
            "Records": {
                "s3": {"object": {"key": [{"prefix": "auto-"}]}},
                "eventName": [{"prefix": "ObjectCreated:"}],
            }
        }
    )
    created = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"object": {"key": "auto-insurance-2314.xml", "size": 17}},
            }
        ]
    }
    assert p.matches_body(body(created))
    removed = json.loads(body(created))
    removed["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    assert not p.matches_body(body(removed))
    home = json.loads(body(created))
    home["Records"][0]["s3"]["object"]["key"] = "home-insurance-2314.xml"
    assert not p.matches_body(body(home))
    nested_lists = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"object": [[{"key": "auto-insurance-2314.xml"}]]},
            },
            {"eventName": "ObjectRemoved:Delete", "s3": {"object": {"key": "home-1.xml"}}},
        ]
    }
    assert p.matches_body(body(nested_lists))


@pytest.mark.parametrize(
    "text", ["not json", "[1, 2]", '"rugby"', "42", "null", "", '{"sport": "rugby"', "{'a': 1}"]
)
def test_body_that_is_not_a_json_object_matches_nothing(text):
    assert not body_policy({"sport": ["rugby"]}).matches_body(text)
    assert not body_policy({"sport": [{"exists": False}]}).matches_body(text)


def test_body_rejects_non_standard_json_constants():
    p = body_policy({"n": [{"exists": True}]})
    assert not p.matches_body('{"n": NaN}')
    assert p.matches_body('{"n": 1}')


def test_body_bytes_and_parsed_documents():
    p = body_policy({"price": [{"numeric": [">", 1]}], "sport": ["rugby"]})
    assert p.matches_body(b'{"price": 2, "sport": "rugby"}')
    assert p.matches_document({"price": 1.5, "sport": "rugby"})
    assert not p.matches_document({"price": 0.5, "sport": "rugby"})
    assert not p.matches_document(["price"])


def test_same_body_object_many_policies():
    text = body({"sport": "rugby", "price": 10})
    policies = [
        body_policy({"sport": ["rugby"]}),
        body_policy({"price": [{"numeric": ["<", 5]}]}),
        body_policy({"sport": [{"prefix": "rug"}], "price": [10]}),
    ]
    assert [p.matches_body(text) for p in policies] == [True, False, True]
    assert [p.matches_body(text) for p in policies] == [True, False, True]


def test_body_policy_on_attributes_still_works_for_flat_keys():
    p = body_policy({"sport": ["rugby"]})
    assert p.matches_attributes({"sport": S("rugby")})


def test_empty_policy_matches_everything():
    p = parse_filter_policy("{}")
    assert p.matches_attributes({})
    assert p.matches_body("not json")
    b = parse_filter_policy("{}", SCOPE_BODY)
    assert b.matches_body("not json")


def test_policy_exposes_scope_and_source():
    text = '{"sport": ["rugby"]}'
    p = parse_filter_policy(text, SCOPE_BODY)
    assert p.scope == SCOPE_BODY
    assert p.source == text


# --------------------------------------------------------------------------- validation


def test_bad_json():
    assert error_of("{not json") == "Invalid parameter: FilterPolicy: failed to parse JSON."
    assert error_of("") == "Invalid parameter: FilterPolicy: failed to parse JSON."
    assert error_of('{"a": [NaN]}') == "Invalid parameter: FilterPolicy: failed to parse JSON."


@pytest.mark.parametrize("text", ["[]", '["a"]', '"a"', "1", "null", "true"])
def test_policy_must_be_an_object(text):
    assert reason_of(text) == "Filter is not an object"


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ({"key": [["value"]]}, "Match value must be String, number, true, false, or null"),
        ({"key": [{"wrong-operator": True}]}, "Unrecognized match type wrong-operator"),
        (
            {"key": [{"suffix": "value", "prefix": "value2"}]},
            "Only one key allowed in match expression",
        ),
        ({"key": [{}]}, "Match expression name not found"),
        ({"key": [{"suffix": 100}]}, "suffix match pattern must be a string"),
        ({"key": [{"suffix": None}]}, "suffix match pattern must be a string"),
        ({"key": [{"suffix": []}]}, "suffix match pattern must be a string"),
        ({"key": [{"suffix": ["test", "test2"]}]}, "suffix match pattern must be a string"),
        ({"key": [{"prefix": 1}]}, "prefix match pattern must be a string"),
        ({"key": [{"prefix": {"wrong": "x"}}]}, "Unsupported prefix pattern: wrong"),
        ({"key": [{"equals-ignore-case": 1}]}, "equals-ignore-case match pattern must be a string"),
        ({"key": [{"wildcard": None}]}, "wildcard match pattern must be a string"),
        ({"key": [{"cidr": 10}]}, "cidr match pattern must be a string"),
        ({"key": {"suffix": "value"}}, '"suffix" must be an object or an array'),
        ({"key": {"not-an-operator": "value"}}, '"not-an-operator" must be an object or an array'),
        ({"key_a": "value_one"}, '"key_a" must be an object or an array'),
        ({"key_a": 1}, '"key_a" must be an object or an array'),
        ({"key_a": None}, '"key_a" must be an object or an array'),
        ({"key_a": []}, "Empty arrays are not allowed"),
        ({"key": [{"exists": None}]}, "exists match pattern must be either true or false."),
        ({"key": [{"exists": "no"}]}, "exists match pattern must be either true or false."),
        ({"key": [{"exists": 1}]}, "exists match pattern must be either true or false."),
    ],
)
def test_invalid_values_and_operators(obj, reason):
    assert reason_of(obj) == reason


@pytest.mark.parametrize(
    ("condition", "reason"),
    [
        ([], "Invalid member in numeric match: ]"),
        (["operator"], "Unrecognized numeric range operator: operator"),
        ([1, "<="], "Invalid member in numeric match: 1"),
        ([True, "<="], "Invalid member in numeric match: true"),
        (["=", "000"], "Value of equals must be numeric"),
        (["=", True], "Value of equals must be numeric"),
        ([">="], "Value of >= must be numeric"),
        (["<", 100, ">", 10], "Too many elements in numeric expression"),
        (["=", 1, 2], "Too many elements in numeric expression"),
        ([">=", 1, ">", 2], "Bad numeric range operator: >"),
        ([">", 3, "<", 1], "Bottom must be less than top"),
        ([">=", 3, "<=", 3], "Bottom must be less than top"),
        ([">", 20, "<="], "Value of <= must be numeric"),
        ([">", 20, 30], "Bad value in numeric range: 30"),
        ([">", 20, "test"], "Bad numeric range operator: test"),
        ([">", "20", "<", "30"], "Value of > must be numeric"),
        ([">", 20, "<", "30"], "Value of < must be numeric"),
        ([">", 20, "<", 30, "<", 50], "Too many terms in numeric range expression"),
    ],
)
def test_invalid_numeric_conditions(condition, reason):
    assert reason_of({"key": [{"numeric": condition}]}) == reason


def test_numeric_must_be_an_array_and_alone():
    assert reason_of({"key": [{"numeric": 5}]}) == "Value of numeric must be an array."
    assert reason_of({"key": [{"numeric": [">", 1], "x": 1}]}) == (
        "Too many elements in numeric expression"
    )


@pytest.mark.parametrize(
    "obj",
    [
        {"n": [{"numeric": [">", 1000000001]}]},
        {"n": [{"numeric": ["<", -1e10]}]},
        {"n": [{"numeric": [">", 0, "<", 1.5e9]}]},
        {"n": [{"numeric": ["=", 1000000000.00001]}]},
        {"n": [{"anything-but": [5e9]}]},
        {"n": [{"anything-but": -2000000000}]},
    ],
)
def test_numbers_out_of_range(obj):
    assert reason_of(obj) == "Value must be between -1.0E9 and 1.0E9, inclusive"


def test_numbers_at_the_range_bounds_are_accepted():
    p = policy({"n": [{"numeric": [">=", -1000000000, "<=", 1e9]}]})
    assert p.matches_attributes({"n": N("1000000000")})
    assert p.matches_attributes({"n": N("-1000000000")})


@pytest.mark.parametrize(
    ("argument", "reason"),
    [
        ({"wrong-operator": None}, "Unsupported anything-but pattern: wrong-operator"),
        ({"exists": False}, "Unsupported anything-but pattern: exists"),
        ({"numeric": [">", 1]}, "Unsupported anything-but pattern: numeric"),
        ({"prefix": False}, "prefix match pattern must be a string"),
        ({"suffix": 1}, "suffix match pattern must be a string"),
        ({"wildcard": ["*a", 1]}, "wildcard match pattern must be a string"),
        ({"prefix": ""}, "Null prefix/suffix not allowed"),
        ({}, "Anything-But expression name not found"),
        (None, "Value of anything-but must be an array or single string/number value."),
        (True, "Value of anything-but must be an array or single string/number value."),
        (["a", None], "Inside anything but list, start|null|boolean is not supported."),
        (["a", ["b"]], "Inside anything but list, start|null|boolean is not supported."),
        (
            ["a", 1],
            "Inside anything but list, either all values are number or string, "
            "mixed type is not supported",
        ),
        (
            [],
            "Inside anything but list, either all values are number or string, "
            "mixed type is not supported",
        ),
    ],
)
def test_invalid_anything_but(argument, reason):
    assert reason_of({"key": [{"anything-but": argument}]}) == reason


@pytest.mark.parametrize(
    ("cidr", "reason"),
    [
        ("10.0.0.0", "Malformed CIDR, one '/' required"),
        ("10.0.0.0/abc", "Malformed CIDR, mask bits must be an integer"),
        ("10.0.0.0/", "Malformed CIDR, mask bits must be an integer"),
        ("300.0.0.0/8", "Nonstandard IP address: 300.0.0.0"),
        ("not-an-ip/8", "Nonstandard IP address: not-an-ip"),
        ("10.0.0.0/33", "Malformed CIDR, mask bits must be between 0 and 32"),
        ("2001:db8::/129", "Malformed CIDR, mask bits must be between 0 and 128"),
    ],
)
def test_invalid_cidr(cidr, reason):
    assert reason_of({"ip": [{"cidr": cidr}]}) == reason


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("a**b", "Consecutive wildcard characters at pos 2"),
        ("a\\b", "Invalid use of backslash escape character at pos 1"),
        ("ab\\", "Invalid use of backslash escape character at pos 2"),
        ("*a*b*c*", "Wildcard pattern can not have more than 3 wildcard characters"),
    ],
)
def test_invalid_wildcards(pattern, reason):
    assert reason_of({"name": [{"wildcard": pattern}]}) == reason


def test_wildcard_complexity_limit():
    # Three wildcards score 3 points each: (9 x 4) x 4 patterns = 144 points > 100.
    too_complex = {"name": [{"wildcard": f"*a{i}*b*"} for i in range(4)]}
    assert reason_of(too_complex).startswith("Rule is too complex")
    assert policy({"name": [{"wildcard": "*a*b"}, {"wildcard": "c*"}]})


def test_nested_policy_rejected_for_message_attributes():
    nested = {"object": {"key": [{"prefix": "auto-"}]}}
    assert error_of(nested) == (
        "Invalid parameter: Filter policy scope MessageAttributes does not support nested "
        "filter policy"
    )
    assert error_of({"$or": [{"a": ["x"]}, {"b": {"c": ["y"]}}]}) == error_of(nested)
    assert body_policy(nested).matches_body(body({"object": {"key": "auto-1"}}))


def test_empty_nested_objects_are_rejected():
    assert reason_of({"object": {}}, SCOPE_BODY) == "Empty objects are not allowed"
    assert reason_of({"$or": [{"a": ["x"]}, {}]}) == "Empty objects are not allowed"


# --------------------------------------------------------------------------- limits


def test_too_many_keys():
    six = {f"key{i}": [f"value{i}"] for i in range(1, 7)}
    assert reason_of(six) == "Filter policy can not have more than 5 keys"
    five = {f"key{i}": [f"value{i}"] for i in range(1, 6)}
    assert policy(five)


def test_nested_policies_count_leaf_keys():
    six_leaves = {"parent": {f"key{i}": ["v"] for i in range(6)}}
    assert reason_of(six_leaves, SCOPE_BODY) == "Filter policy can not have more than 5 keys"
    five_leaves = {"a": {"b": {"c": ["v"]}, "d": ["v"]}, "e": {"f": ["v"], "g": ["v"]}, "h": ["v"]}
    assert body_policy(five_leaves)


def test_keys_are_counted_per_or_branch():
    p = policy(
        {
            "a": ["1"],
            "b": ["1"],
            "$or": [{"c": ["1"], "d": ["1"], "e": ["1"]}, {"f": ["1"], "g": ["1"], "h": ["1"]}],
        }
    )
    assert p.matches_attributes({k: S("1") for k in "abfgh"})
    assert reason_of(
        {"a": ["1"], "b": ["1"], "$or": [{"c": ["1"], "d": ["1"], "e": ["1"], "f": ["1"]}, {}]}
    ) == ("Empty objects are not allowed")
    assert (
        reason_of(
            {
                "a": ["1"],
                "b": ["1"],
                "$or": [{"c": ["1"], "d": ["1"], "e": ["1"], "f": ["1"]}, {"g": ["1"]}],
            }
        )
        == "Filter policy can not have more than 5 keys"
    )


def test_complexity_limit_flat():
    assert policy({"key": [f"value{i}" for i in range(150)]})
    assert reason_of({"key": [f"value{i}" for i in range(151)]}) == "Filter policy is too complex"
    two = {"key1": [f"value{i}" for i in range(100)], "key2": [f"value{i}" for i in range(51)]}
    assert reason_of(two) == "Filter policy is too complex"
    # 3 x 1 x 2 = 6 (the example of the AWS documentation)
    assert policy(
        {
            "key_a": ["value_one", "value_two", "value_three"],
            "key_b": ["value_one"],
            "key_c": ["value_one", "value_two"],
        }
    )


def test_complexity_counts_nesting_levels():
    # 4 values x 3 levels x 3 values x 2 levels = 72
    nested = {
        "key_a": {"key_b": {"key_c": ["value_one", "value_two", "value_three", "value_four"]}},
        "key_d": {"key_e": ["value_one", "value_two", "value_three"]},
    }
    assert body_policy(nested)
    # ... x 3 values x 1 level = 216
    too_complex = {**nested, "key_f": ["value_one", "value_two", "value_three"]}
    assert reason_of(too_complex, SCOPE_BODY) == "Filter policy is too complex"
    # 26 values at level 3 = 78 * 2 = 156 > 150 though the flat product is 52.
    assert (
        reason_of({"a": {"b": {"c": [str(i) for i in range(26)]}}, "d": ["1", "2"]}, SCOPE_BODY)
        == "Filter policy is too complex"
    )


def test_complexity_with_or_is_a_sum_over_branches():
    # (3 x 6) + (3 x 4 x 4) + (3 x 4 x 7) = 150: accepted.
    accepted = {
        "source": ["aws.cloudwatch", "aws.events", "aws.test"],
        "$or": [
            {"metricName": ["CPUUtilization", "ReadLatency", "T1", "T2", "T3", "T4"]},
            {
                "metricType": ["MetricType", "TestType", "TestType2", "TestType3"],
                "$or": [{"metricId": [1234, 4321, 5678, 9012]}, {"spaceId": [1, 2, 3, 4, 5, 6, 7]}],
            },
        ],
    }
    assert policy(accepted)
    # (4 x 6) + (4 x 4 x 4) + (4 x 4 x 4) = 152: too complex.
    rejected = {
        "source": ["aws.cloudwatch", "aws.events", "aws.test", "aws.test2"],
        "$or": [
            {"metricName": ["CPUUtilization", "ReadLatency", "t1", "t2", "t3", "t4"]},
            {
                "metricType": ["MetricType", "TestType", "TestType2", "TestType3"],
                "$or": [{"metricId": [1234, 4321, 5678, 9012]}, {"spaceId": [1, 2, 3, 4]}],
            },
        ],
    }
    assert reason_of(rejected) == "Filter policy is too complex"


def test_complexity_with_nested_or():
    # Documentation example: (2 x 2 x 2) x 4 branches = 32.
    documented = {
        "$or": [
            {"metricName": ["CPUUtilization", "ReadLatency"]},
            {"namespace": ["AWS/EC2", "AWS/ES"]},
        ],
        "detail": {
            "scope": ["Service"],
            "$or": [{"source": ["aws.cloudwatch"]}, {"type": ["CloudWatch Alarm State Change"]}],
        },
    }
    assert body_policy(documented)
    # (3 x 4 x 2) + (3 x 4 x 6) + (2 x 4 x 2) + (2 x 4 x 6) = 160: too complex.
    rejected = {
        "$or": [
            {"metricName": ["CPUUtilization", "ReadLatency", "TestValue"]},
            {"namespace": ["AWS/EC2", "AWS/ES"]},
        ],
        "detail": {
            "scope": ["Service", "Test"],
            "$or": [
                {"source": ["aws.cloudwatch"]},
                {"type": ["CloudWatch Alarm State Change", "TestValue", "TestValue2"]},
            ],
        },
    }
    assert reason_of(rejected, SCOPE_BODY) == "Filter policy is too complex"


def test_exploding_or_is_too_complex_not_slow():
    branch = {"$or": [{"a": ["1"]}, {"b": ["1"]}, {"c": ["1"]}]}
    deep: dict[str, Any] = {"x": ["1"]}
    for i in range(12):
        deep = {f"k{i}": ["1"], "$or": [deep, branch]}
    assert reason_of(deep) in (
        "Filter policy is too complex",
        "Filter policy can not have more than 5 keys",
    )


def test_policy_size_limit():
    small = {"key": ["x" * 1000]}
    assert policy(small)
    big = json.dumps({"key": ["x" * (256 * 1024)]})
    assert error_of(big) == "Invalid parameter: FilterPolicy: Filter policy is too large"


def test_limits_can_be_skipped():
    six = {f"key{i}": ["v"] for i in range(6)}
    p = policy(six, enforce_limits=False)
    assert p.matches_attributes({f"key{i}": S("v") for i in range(6)})
    assert policy({"key": [str(i) for i in range(500)]}, enforce_limits=False)
    # Structural errors are still reported.
    assert error_of({"key": []}) == "Invalid parameter: FilterPolicy: Empty arrays are not allowed"


def test_invalid_scope():
    with pytest.raises(FilterPolicyError) as info:
        parse_filter_policy('{"a": ["b"]}', "RandomValue")
    assert str(info.value) == (
        "Invalid parameter: FilterPolicyScope: Invalid value [RandomValue]. "
        "Please use either MessageBody or MessageAttributes"
    )


def test_error_is_a_value_error_with_reason_and_subscribe_form():
    with pytest.raises(ValueError) as info:
        parse_filter_policy('{"key": []}')
    error = info.value
    assert isinstance(error, FilterPolicyError)
    assert error.reason == "Empty arrays are not allowed"
    assert error.subscribe_message() == (
        "Invalid parameter: Attributes Reason: FilterPolicy: Empty arrays are not allowed"
    )


def test_deeply_nested_policy_is_rejected_cleanly():
    text = '{"a": ' * 5000 + '["x"]' + "}" * 5000
    with pytest.raises(FilterPolicyError):
        parse_filter_policy(text, SCOPE_BODY)


def test_deeply_nested_body_does_not_crash():
    p = body_policy({"a": [{"exists": True}]})
    assert not p.matches_body('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert p.matches_body('{"a": ' + "[" * 200 + "1" + "]" * 200 + "}")


def test_wide_or_is_too_complex():
    wide = {"$or": [{f"k{i}": ["v"]} for i in range(1000)], "x": ["1"]}
    assert reason_of(wide) == "Filter policy is too complex"
    p = policy(wide, enforce_limits=False)
    assert p.matches_attributes({"k999": S("v"), "x": S("1")})
    assert not p.matches_attributes({"k1000": S("v"), "x": S("1")})
