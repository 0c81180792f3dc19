"""The rest-json codec in process: routes from Lambda's model, decode and encode by the
model's location traits, errors as AWS sends them."""

from __future__ import annotations

import orjson
import pytest

from postroom.protocol.errors import AWSError
from postroom.protocol.model import load_service_model
from postroom.protocol.restjson import (
    build_routes,
    decode_restjson,
    encode_restjson,
    encode_restjson_error,
    match_route,
)

MODEL = load_service_model("lambda")
ROUTES = build_routes(MODEL)


def route(method: str, path: str, query: dict | None = None) -> tuple[str, dict]:
    found = match_route(ROUTES, method, path, query or {})
    assert found is not None, (method, path)
    return found[0].operation, found[1]


def test_routes_pick_the_operation_by_method_and_template():
    assert route("POST", "/2015-03-31/functions") == ("CreateFunction", {})
    assert route("GET", "/2015-03-31/functions/") == ("ListFunctions", {})
    assert route("GET", "/2015-03-31/functions/fn") == ("GetFunction", {"FunctionName": "fn"})
    assert route("DELETE", "/2015-03-31/functions/fn") == ("DeleteFunction", {"FunctionName": "fn"})
    assert route("GET", "/2015-03-31/functions/fn/configuration")[0] == "GetFunctionConfiguration"
    assert route("POST", "/2015-03-31/functions/fn/invocations")[0] == "Invoke"
    assert route("GET", "/2015-03-31/functions/fn/aliases/live") == (
        "GetAlias", {"FunctionName": "fn", "Name": "live"})


def test_labels_are_percent_decoded_and_arns_fit_one_segment():
    arn = "arn:aws:lambda:us-east-1:000000000000:function:fn"
    op, labels = route("GET", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Afn")
    assert (op, labels) == ("GetFunction", {"FunctionName": arn})
    assert route("GET", f"/2017-03-31/tags/{arn}") == ("ListTags", {"Resource": arn})


def test_literal_query_parameters_in_the_uri_select_the_route():
    assert route("GET", "/2018-10-31/layers", {"find": ["LayerVersion"], "Arn": ["x"]})[0] == "GetLayerVersionByArn"
    assert route("GET", "/2018-10-31/layers")[0] == "ListLayers"
    assert match_route(ROUTES, "PATCH", "/2015-03-31/functions", {}) is None


def test_decode_takes_headers_query_and_raw_payload():
    params = decode_restjson(
        MODEL, "Invoke", {"FunctionName": "fn"}, {"Qualifier": ["live"]},
        {"x-amz-invocation-type": "Event", "x-amz-log-type": "Tail"}, b'{"a": 1}',
    )
    assert params == {
        "FunctionName": "fn", "Qualifier": "live", "InvocationType": "Event", "LogType": "Tail",
        "Payload": b'{"a": 1}',
    }


def test_decode_json_body_members_and_typed_query_values():
    body = orjson.dumps({"FunctionName": "fn", "Runtime": "python3.12", "Code": {"ZipFile": "UEsFBg=="},
                         "Timeout": 5, "Unknown": 1})
    params = decode_restjson(MODEL, "CreateFunction", {}, {}, {}, body)
    assert params["Code"] == {"ZipFile": b"PK\x05\x06"} and params["Timeout"] == 5
    assert "Unknown" not in params
    listed = decode_restjson(MODEL, "ListFunctions", {}, {"MaxItems": ["5"], "Marker": ["m"]}, {}, b"")
    assert listed == {"MaxItems": 5, "Marker": "m"}
    with pytest.raises(AWSError) as err:
        decode_restjson(MODEL, "ListFunctions", {}, {"MaxItems": ["five"]}, {}, b"")
    assert err.value.type_name == "SerializationException"
    with pytest.raises(AWSError):
        decode_restjson(MODEL, "CreateFunction", {}, {}, {}, b"{not json")


def test_encode_places_status_headers_and_raw_payload():
    out = encode_restjson(MODEL, "Invoke", {
        "StatusCode": 200, "FunctionError": "Unhandled", "ExecutedVersion": "$LATEST", "Payload": b'{"x":1}',
    })
    assert out.status == 200 and out.body == b'{"x":1}'
    assert (b"X-Amz-Function-Error", b"Unhandled") in out.headers
    assert (b"X-Amz-Executed-Version", b"$LATEST") in out.headers
    assert encode_restjson(MODEL, "Invoke", {"StatusCode": 202}).status == 202
    created = encode_restjson(MODEL, "CreateAlias", {"Name": "live", "FunctionVersion": "1"})
    assert created.status == 201 and orjson.loads(created.body) == {"Name": "live", "FunctionVersion": "1"}


def test_errors_carry_the_type_header_and_the_shape_members():
    error = MODEL.error("TooManyRequestsException", "Rate exceeded", Reason="ReservedFunctionConcurrentInvocationLimitExceeded")
    out = encode_restjson_error(error)
    assert out.status == 429
    assert (b"x-amzn-errortype", b"TooManyRequestsException") in out.headers
    assert orjson.loads(out.body) == {
        "Type": "User", "Message": "Rate exceeded", "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
    }
