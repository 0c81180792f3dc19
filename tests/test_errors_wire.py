"""Both wire protocols spoken by hand (no SDK): error documents, status codes, and junk input.

AWS JSON 1.0 errors: body {"__type": "com.amazonaws.sqs#<Shape>", "message": ...} plus header
``x-amzn-query-error: <QueryCode>;Sender``. Query errors: XML
<ErrorResponse xmlns=...><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>.
"""

from __future__ import annotations

import http.client
import json
import random
import urllib.parse
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError
from server import ACCOUNT, http_get_json, md5_hex, unique_name

NS = "http://queue.amazonaws.com/doc/2012-11-05/"
JSON_CT = "application/x-amz-json-1.0"
FORM_CT = "application/x-www-form-urlencoded"
# Real clients always sign; the signature is not checked, but the credential scope is read.
AUTH = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/sqs/aws4_request, "
                     "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
    "X-Amz-Date": "20240101T000000Z",
}


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body)

    def xml(self):
        return ET.fromstring(self.body)

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.body[:500]!r}>"


def request(endpoint, method="POST", path="/", body=b"", headers=None, timeout=30):
    parts = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Response(resp.status, resp.getheaders(), resp.read())
    finally:
        conn.close()


def json_call(endpoint, operation, payload, raw=None, target=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {"Content-Type": JSON_CT, "X-Amz-Target": target or f"AmazonSQS.{operation}",
               **AUTH}
    return request(endpoint, body=body, headers=headers)


def query_call(endpoint, params, path="/", method="POST"):
    encoded = urllib.parse.urlencode(params)
    if method == "GET":
        return request(endpoint, "GET", f"{path}?{encoded}", headers=dict(AUTH))
    return request(endpoint, "POST", path, encoded.encode(), {"Content-Type": FORM_CT, **AUTH})


def json_error_code(resp) -> str:
    """The code botocore would report: the x-amzn-query-error code, else __type's shape."""
    header = resp.headers.get("x-amzn-query-error")
    if header and ";" in header:
        return header.split(";")[0]
    return resp.json()["__type"].rsplit("#", 1)[-1]


def xml_error(resp) -> dict:
    root = resp.xml()
    assert root.tag == f"{{{NS}}}ErrorResponse", resp
    error = root.find(f"{{{NS}}}Error")
    assert error is not None, resp
    out = {child.tag.split("}")[-1]: (child.text or "") for child in error}
    request_id = root.find(f"{{{NS}}}RequestId")
    assert request_id is not None and request_id.text, resp
    return out


def find(elem, path):
    return elem.find("/".join(f"{{{NS}}}{p}" for p in path.split("/")))


def findall(elem, path):
    return elem.findall("/".join(f"{{{NS}}}{p}" for p in path.split("/")))


@pytest.fixture
def raw_queue(endpoint):
    """A queue made over the JSON wire; yields (name, url)."""
    name = unique_name("wire")
    resp = json_call(endpoint, "CreateQueue", {"QueueName": name})
    assert resp.status == 200, resp
    url = resp.json()["QueueUrl"]
    yield name, url
    json_call(endpoint, "DeleteQueue", {"QueueUrl": url})


# --------------------------------------------------------------------------- JSON protocol


def test_json_success_shape(endpoint):
    resp = json_call(endpoint, "ListQueues", {"QueueNamePrefix": unique_name("none")})
    assert resp.status == 200
    assert resp.headers["content-type"].startswith(JSON_CT)
    assert resp.headers.get("x-amzn-requestid")
    assert isinstance(resp.json(), dict)


def test_json_queue_does_not_exist(endpoint):
    resp = json_call(endpoint, "GetQueueUrl", {"QueueName": unique_name("missing")})
    assert resp.status == 400
    assert resp.headers["content-type"].startswith(JSON_CT)
    assert resp.headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    assert resp.headers.get("x-amzn-requestid")
    body = resp.json()
    assert body["__type"] == "com.amazonaws.sqs#QueueDoesNotExist"
    assert body["message"] == "The specified queue does not exist."


def test_json_unknown_operation(endpoint):
    resp = json_call(endpoint, None, {}, target="AmazonSQS.NoSuchOperation")
    assert 400 <= resp.status < 500, resp
    code = json_error_code(resp)
    assert "UnknownOperation" in code or code == "InvalidAction", resp


@pytest.mark.parametrize("target", ["", "AmazonSQS", "AmazonSQS.", "Other.ListQueues",
                                    "AmazonSNS.ListTopics"])
def test_json_bad_target(endpoint, target):
    resp = json_call(endpoint, None, {}, target=target)
    assert 400 <= resp.status < 500, resp


@pytest.mark.parametrize(
    "raw",
    [b"{", b"not json", b"[1, 2]", b"\"string\"", b"\xff\xfe\x00", b"{\"QueueName\": }"],
    ids=["truncated", "text", "array", "string", "binary", "syntax"],
)
def test_json_malformed_body(endpoint, raw):
    resp = json_call(endpoint, "CreateQueue", None, raw=raw)
    assert 400 <= resp.status < 500, resp
    assert "__type" in resp.json()


@pytest.mark.parametrize(
    "operation,payload",
    [
        ("CreateQueue", {"QueueName": 123}),
        ("CreateQueue", {"QueueName": ["a"]}),
        ("CreateQueue", {"QueueName": "ok", "Attributes": ["VisibilityTimeout"]}),
        ("CreateQueue", {"QueueName": "ok", "Attributes": {"VisibilityTimeout": 5}}),
        ("ReceiveMessage", {"QueueUrl": "QUEUE", "MaxNumberOfMessages": "ten"}),
        ("ReceiveMessage", {"QueueUrl": "QUEUE", "WaitTimeSeconds": {"a": 1}}),
        ("SendMessage", {"QueueUrl": "QUEUE", "MessageBody": ["x"]}),
        ("SendMessage", {"QueueUrl": "QUEUE", "MessageBody": "x", "DelaySeconds": "soon"}),
        ("SendMessage", {"QueueUrl": "QUEUE", "MessageBody": "x", "MessageAttributes": []}),
        ("SendMessageBatch", {"QueueUrl": "QUEUE", "Entries": {"Id": "a"}}),
        ("DeleteMessage", {"QueueUrl": 5, "ReceiptHandle": "x"}),
    ],
)
def test_json_wrong_parameter_types(endpoint, raw_queue, operation, payload):
    payload = {k: (raw_queue[1] if v == "QUEUE" else v) for k, v in payload.items()}
    resp = json_call(endpoint, operation, payload)
    assert 400 <= resp.status < 500, resp
    assert "__type" in resp.json()


@pytest.mark.parametrize(
    "operation,payload",
    [
        ("CreateQueue", {}),
        ("GetQueueUrl", {}),
        ("SendMessage", {"QueueUrl": "QUEUE"}),
        ("DeleteMessage", {"QueueUrl": "QUEUE"}),
        ("ChangeMessageVisibility", {"QueueUrl": "QUEUE", "ReceiptHandle": "x"}),
        ("TagQueue", {"QueueUrl": "QUEUE"}),
    ],
)
def test_json_missing_parameter(endpoint, raw_queue, operation, payload):
    """AWS (recorded): x-amzn-query-error MissingParameter, __type MissingRequiredParameterException."""
    payload = {k: (raw_queue[1] if v == "QUEUE" else v) for k, v in payload.items()}
    resp = json_call(endpoint, operation, payload)
    assert resp.status == 400, resp
    assert resp.headers["x-amzn-query-error"] == "MissingParameter;Sender", resp
    assert resp.json()["__type"] == "com.amazon.coral.service#MissingRequiredParameterException"
    assert resp.json()["message"].startswith("The request must contain the parameter ")


@pytest.mark.parametrize(
    "operation,payload,status,query_code,json_type,message",
    [
        ("ReceiveMessage", {"QueueUrl": "QUEUE", "MaxNumberOfMessages": 11}, 400,
         "InvalidParameterValue", "com.amazon.coral.service#InvalidParameterValueException",
         "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."),
        ("CreateQueue", {"QueueName": "NAME", "Attributes": {"DelaySeconds": "5"}}, 400,
         "QueueAlreadyExists", "com.amazonaws.sqs#QueueNameExists",
         "A queue already exists with the same name and a different value for attribute DelaySeconds"),
        ("DeleteMessageBatch", {"QueueUrl": "QUEUE", "Entries": [{"Id": "a:b", "ReceiptHandle": "x"}]}, 400,
         "AWS.SimpleQueueService.InvalidBatchEntryId", "com.amazonaws.sqs#InvalidBatchEntryId",
         "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
         "It can be at most 80 letters long."),
        ("GetQueueAttributes", {"QueueUrl": "QUEUE", "AttributeNames": ["Foobar"]}, 400,
         "InvalidAttributeName", "com.amazonaws.sqs#InvalidAttributeName", "Unknown Attribute Foobar."),
    ],
    ids=["invalid-parameter", "queue-exists", "batch-id", "attribute-name"],
)
def test_json_error_names(endpoint, raw_queue, operation, payload, status, query_code, json_type, message):
    """Each error class with AWS's recorded pair: the query code in x-amzn-query-error (what
    SDKs report as the code) and the JSON shape in __type (botocore's QueryErrorCode)."""
    name, url = raw_queue
    payload = {k: {"QUEUE": url, "NAME": name}.get(v, v) if isinstance(v, str) else v
               for k, v in payload.items()}
    resp = json_call(endpoint, operation, payload)
    assert resp.status == status, resp
    assert resp.headers["x-amzn-query-error"] == f"{query_code};Sender"
    assert resp.json() == {"__type": json_type, "message": message}


def test_sdk_sees_query_code_and_json_name(json_sqs, raw_queue):
    """What botocore makes of it: Code is the query code, QueryErrorCode the JSON name."""
    with pytest.raises(ClientError) as caught:
        json_sqs.receive_message(QueueUrl=raw_queue[1], MaxNumberOfMessages=11)
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidParameterValue"
    assert error["QueryErrorCode"] == "InvalidParameterValueException"
    assert error["Type"] == "Sender"


def test_query_keeps_the_short_codes(endpoint, raw_queue):
    resp = query_call(endpoint, {"Action": "ReceiveMessage", "QueueUrl": raw_queue[1],
                                 "MaxNumberOfMessages": "11"})
    assert resp.status == 400, resp
    assert xml_error(resp)["Code"] == "InvalidParameterValue"
    resp = query_call(endpoint, {"Action": "SendMessage", "QueueUrl": raw_queue[1]})
    assert xml_error(resp)["Code"] == "MissingParameter"


def test_common_errors_are_corals():
    """Errors that are not SQS shapes carry coral's namespace; AccessDenied has its JSON name."""
    from postroom.protocol.awsjson import json_error_type
    from postroom.protocol.errors import AWSError
    from postroom.protocol.model import load_service_model

    sqs, logs = load_service_model("sqs"), load_service_model("logs")
    assert json_error_type(sqs, AWSError("AccessDenied", "x")) == "com.amazon.coral.service#AccessDeniedException"
    assert json_error_type(sqs, sqs.error("OverLimit", "x")) == "com.amazonaws.sqs#OverLimit"
    # Not query-compatible: the name is kept.
    assert json_error_type(logs, AWSError("MissingParameter", "x")) == "com.amazon.coral.service#MissingParameter"


def test_json_accepts_queue_url_of_any_host(endpoint, raw_queue):
    """Only the path of QueueUrl identifies the queue (SDKs may send the public URL form)."""
    name, _ = raw_queue
    url = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/{name}"
    resp = json_call(endpoint, "SendMessage", {"QueueUrl": url, "MessageBody": "any host"})
    assert resp.status == 200, resp
    assert resp.json()["MD5OfMessageBody"] == md5_hex("any host")


# --------------------------------------------------------------------------- query protocol


def test_query_success_shape(endpoint):
    name = unique_name("q")
    resp = query_call(endpoint, {"Action": "CreateQueue", "QueueName": name,
                                 "Version": "2012-11-05"})
    assert resp.status == 200, resp
    assert "xml" in resp.headers["content-type"]
    root = resp.xml()
    assert root.tag == f"{{{NS}}}CreateQueueResponse"
    url = find(root, "CreateQueueResult/QueueUrl").text
    assert url.endswith(f"/{ACCOUNT}/{name}")
    assert find(root, "ResponseMetadata/RequestId").text
    query_call(endpoint, {"Action": "DeleteQueue", "QueueUrl": url})


def test_query_error_document(endpoint):
    resp = query_call(endpoint, {"Action": "GetQueueUrl", "QueueName": unique_name("missing")})
    assert resp.status == 400
    assert "xml" in resp.headers["content-type"]
    err = xml_error(resp)
    assert err["Type"] == "Sender"
    assert err["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert err["Message"].startswith("The specified queue does not exist")


def test_query_unknown_action(endpoint):
    resp = query_call(endpoint, {"Action": "NoSuchAction"})
    assert resp.status == 400, resp
    assert xml_error(resp)["Code"] == "InvalidAction"


def test_query_missing_action(endpoint):
    """AWS (recorded): SQS answers a request without Action 404 with a bare element."""
    resp = query_call(endpoint, {"QueueName": "x"})
    assert resp.status == 404, resp
    assert resp.body.startswith(b"<UnknownOperationException"), resp


def test_query_get_queue_url_without_query(endpoint, raw_queue):
    name, _ = raw_queue
    resp = request(endpoint, "GET", f"/{ACCOUNT}/{name}", headers=dict(AUTH))
    assert resp.status == 404, resp
    assert resp.body.startswith(b"<UnknownOperationException"), resp


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("action", ["FooBar", "CreateQueue", "ListQueues"])
def test_query_action_not_valid_at_a_queue_url(endpoint, raw_queue, action, method):
    """AWS (recorded): unknown actions, and CreateQueue or ListQueues addressed to a queue
    URL, answer InvalidAction with this text."""
    name, _ = raw_queue
    resp = query_call(endpoint, {"Action": action, "Version": "2012-11-05", "QueueName": "other"},
                      path=f"/{ACCOUNT}/{name}", method=method)
    assert resp.status == 400, resp
    assert xml_error(resp) == {"Type": "Sender", "Code": "InvalidAction", "Detail": "",
                               "Message": f"The action {action} is not valid for this endpoint."}


def test_query_get_queue_url_at_another_queue_url(endpoint, raw_queue):
    """AWS (recorded): GetQueueUrl addressed to one queue's URL answers any queue's URL."""
    name, url = raw_queue
    other = json_call(endpoint, "CreateQueue", {"QueueName": unique_name("other")}).json()["QueueUrl"]
    try:
        resp = query_call(endpoint, {"Action": "GetQueueUrl", "QueueName": other.rsplit("/", 1)[1]},
                          path=f"/{ACCOUNT}/{name}", method="GET")
        assert resp.status == 200, resp
        assert find(resp.xml(), "GetQueueUrlResult/QueueUrl").text == other
    finally:
        json_call(endpoint, "DeleteQueue", {"QueueUrl": other})


SNS_AUTH = {**AUTH, "Authorization": AUTH["Authorization"].replace("/sqs/", "/sns/")}
SNS_NS = "http://sns.amazonaws.com/doc/2010-03-31/"


def _sns_error(resp) -> dict:
    error = resp.xml().find(f"{{{SNS_NS}}}Error")
    assert error is not None, resp
    return {child.tag.split("}")[-1]: (child.text or "") for child in error}


def test_sns_unknown_and_missing_action(endpoint):
    """SNS is a query-native service: an unknown action is InvalidAction naming the API
    version, a missing one MissingAction (AWS's wording for its query services)."""
    body = urllib.parse.urlencode({"Action": "FooBar", "Version": "2010-03-31"}).encode()
    resp = request(endpoint, "POST", "/", body, {"Content-Type": FORM_CT, **SNS_AUTH})
    assert resp.status == 400, resp
    assert _sns_error(resp) == {"Type": "Sender", "Code": "InvalidAction",
                                "Message": "Could not find operation FooBar for version 2010-03-31"}
    body = urllib.parse.urlencode({"TopicArn": "x"}).encode()
    resp = request(endpoint, "POST", "/", body, {"Content-Type": FORM_CT, **SNS_AUTH})
    assert resp.status == 400, resp
    assert _sns_error(resp)["Code"] == "MissingAction"


@pytest.mark.parametrize(
    "params",
    [
        {"Action": "CreateQueue"},
        {"Action": "SendMessage", "QueueUrl": "QUEUE"},
        {"Action": "DeleteMessage", "QueueUrl": "QUEUE"},
    ],
)
def test_query_missing_parameter(endpoint, raw_queue, params):
    params = {k: (raw_queue[1] if v == "QUEUE" else v) for k, v in params.items()}
    resp = query_call(endpoint, params)
    assert resp.status == 400, resp
    err = xml_error(resp)
    assert err["Code"] == "MissingParameter"
    assert err["Type"] == "Sender"


@pytest.mark.parametrize(
    "params",
    [
        {"Action": "ReceiveMessage", "QueueUrl": "QUEUE", "MaxNumberOfMessages": "ten"},
        {"Action": "ReceiveMessage", "QueueUrl": "QUEUE", "WaitTimeSeconds": "1.5"},
        {"Action": "SendMessage", "QueueUrl": "QUEUE", "MessageBody": "x", "DelaySeconds": "x"},
        {"Action": "ListQueues", "MaxResults": "lots"},
    ],
)
def test_query_wrong_parameter_types(endpoint, raw_queue, params):
    params = {k: (raw_queue[1] if v == "QUEUE" else v) for k, v in params.items()}
    resp = query_call(endpoint, params)
    assert 400 <= resp.status < 500, resp
    xml_error(resp)


def test_query_get_on_queue_url(endpoint, raw_queue):
    name, _ = raw_queue
    path = f"/{ACCOUNT}/{name}"
    resp = query_call(endpoint, {"Action": "GetQueueAttributes", "AttributeName.1": "All"},
                      path=path, method="GET")
    assert resp.status == 200, resp
    root = resp.xml()
    assert root.tag == f"{{{NS}}}GetQueueAttributesResponse"
    attrs = {find(a, "Name").text: find(a, "Value").text
             for a in findall(root, "GetQueueAttributesResult/Attribute")}
    assert attrs["VisibilityTimeout"] == "30"
    assert attrs["QueueArn"].endswith(f":{ACCOUNT}:{name}")


def test_query_post_to_queue_url_and_get_receive(endpoint, raw_queue):
    name, _ = raw_queue
    path = f"/{ACCOUNT}/{name}"
    resp = query_call(endpoint, {"Action": "SendMessage", "MessageBody": "via path",
                                 "MessageAttribute.1.Name": "k",
                                 "MessageAttribute.1.Value.DataType": "String",
                                 "MessageAttribute.1.Value.StringValue": "v"}, path=path)
    assert resp.status == 200, resp
    root = resp.xml()
    assert find(root, "SendMessageResult/MD5OfMessageBody").text == md5_hex("via path")
    assert find(root, "SendMessageResult/MessageId").text

    resp = query_call(endpoint, {"Action": "ReceiveMessage", "MessageAttributeName.1": "All",
                                 "AttributeName.1": "All", "WaitTimeSeconds": "2"},
                      path=path, method="GET")
    assert resp.status == 200, resp
    [msg] = findall(resp.xml(), "ReceiveMessageResult/Message")
    assert find(msg, "Body").text == "via path"
    assert find(msg, "MD5OfBody").text == md5_hex("via path")
    attrs = {find(a, "Name").text: find(a, "Value/StringValue").text
             for a in findall(msg, "MessageAttribute")}
    assert attrs == {"k": "v"}
    system = {find(a, "Name").text for a in findall(msg, "Attribute")}
    assert {"SentTimestamp", "ApproximateReceiveCount"} <= system


def test_query_get_on_missing_queue_url(endpoint):
    resp = query_call(endpoint, {"Action": "GetQueueAttributes", "AttributeName.1": "All"},
                      path=f"/{ACCOUNT}/{unique_name('missing')}", method="GET")
    assert resp.status == 400, resp
    assert xml_error(resp)["Code"] == "AWS.SimpleQueueService.NonExistentQueue"


# --------------------------------------------------------------------------- junk input


def _junk_requests(queue_url: str, seed: int = 20240611, count: int = 400):
    rng = random.Random(seed)
    queue_path = urllib.parse.urlsplit(queue_url).path
    ops = ["CreateQueue", "SendMessage", "ReceiveMessage", "DeleteMessage", "ListQueues",
           "SendMessageBatch", "GetQueueAttributes", "SetQueueAttributes", "TagQueue",
           "ChangeMessageVisibilityBatch", "PurgeQueue", "NoSuchOp", ""]
    values = [None, True, False, 0, -1, 2**70, -(2**70), 3.5, "", "x" * 5000, "\u0000",
              "\uffff", [], [None], {}, {"a": {"b": []}}, "QUEUE",
              ["QUEUE"], "é", 1e308]
    members = ["QueueUrl", "QueueName", "MessageBody", "MaxNumberOfMessages", "Entries",
               "Attributes", "AttributeNames", "MessageAttributes", "ReceiptHandle",
               "WaitTimeSeconds", "VisibilityTimeout", "Tags", "TagKeys", "DelaySeconds",
               "MessageAttributeNames", "NextToken", "MaxResults", "Label", "Actions"]
    paths = ["/", queue_path, queue_path + "/extra", "/%zz", "/../../etc/passwd",
             "/000000000000/", "/abc/def/ghi", "/?Action=ListQueues&MaxResults=x",
             queue_path + "?Action=ReceiveMessage&WaitTimeSeconds=abc",
             queue_path + "?Action=SendMessage&MessageBody=%ff%fe",
             "/?Action=SendMessage&QueueUrl=" + urllib.parse.quote(queue_url) + "&MessageBody=",
             "/" + "a" * 3000]
    ctypes = [JSON_CT, FORM_CT, "application/x-amz-json-1.1", "text/plain", "application/xml",
              "multipart/form-data; boundary=x", "garbage/\u00e9", None]
    methods = ["POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]

    def sub(v):
        if v == "QUEUE":
            return queue_url
        if v == ["QUEUE"]:
            return [queue_url]
        return v

    valid_json = [
        ("SendMessage", {"QueueUrl": queue_url, "MessageBody": "b", "DelaySeconds": 0,
                         "MessageAttributes": {"a": {"DataType": "String", "StringValue": "v"}}}),
        ("SendMessageBatch", {"QueueUrl": queue_url, "Entries": [{"Id": "a", "MessageBody": "b"}]}),
        ("ReceiveMessage", {"QueueUrl": queue_url, "MaxNumberOfMessages": 1, "WaitTimeSeconds": 0,
                            "AttributeNames": ["All"], "MessageAttributeNames": ["All"]}),
        ("SetQueueAttributes", {"QueueUrl": queue_url, "Attributes": {"DelaySeconds": "0"}}),
        ("ChangeMessageVisibilityBatch", {"QueueUrl": queue_url, "Entries": [
            {"Id": "a", "ReceiptHandle": "h", "VisibilityTimeout": 1}]}),
        ("TagQueue", {"QueueUrl": queue_url, "Tags": {"k": "v"}}),
        ("ListQueues", {"QueueNamePrefix": "x", "MaxResults": 5}),
        ("CreateQueue", {"QueueName": unique_name("fuzz"), "Attributes": {"VisibilityTimeout": "1"},
                         "tags": {"k": "v"}}),
    ]

    def mutate(obj):
        """Replace one value somewhere inside obj with a random junk value."""
        if isinstance(obj, dict) and obj:
            key = rng.choice(sorted(obj))
            return {**obj, key: mutate(obj[key]) if rng.random() < 0.5 else sub(rng.choice(values))}
        if isinstance(obj, list) and obj:
            return [mutate(obj[0])] + obj[1:]
        return sub(rng.choice(values))

    for i in range(count):
        kind = i % 6
        if kind >= 4:  # a valid JSON request with one value mutated
            op, payload = rng.choice(valid_json)
            body = json.dumps(mutate(payload)).encode()
            yield "POST", "/", body, {"Content-Type": JSON_CT, "X-Amz-Target": f"AmazonSQS.{op}"}
            continue
        headers = {}
        ctype = rng.choice(ctypes)
        if ctype:
            headers["Content-Type"] = ctype.encode("utf-8").decode("latin-1")
        if rng.random() < 0.6:
            headers["X-Amz-Target"] = rng.choice(["AmazonSQS.", "AmazonSQS", "x.y", ""]
                                                 + ["AmazonSQS." + o for o in ops])
        if rng.random() < 0.3:
            headers["Authorization"] = rng.choice([
                "AWS4-HMAC-SHA256 Credential=/", "garbage", "AWS4-HMAC-SHA256 Credential=a/b/c",
                "AWS4-HMAC-SHA256 Credential=123456789012/20240101/zz/sqs/aws4_request, "
                "SignedHeaders=host, Signature=00"])
        if kind == 0:  # structured JSON with wrong-ish types
            payload = {rng.choice(members): sub(rng.choice(values))
                       for _ in range(rng.randint(0, 5))}
            body = json.dumps(payload).encode()
            headers["Content-Type"] = JSON_CT
            headers["X-Amz-Target"] = "AmazonSQS." + rng.choice(ops)
            method, path = "POST", "/"
        elif kind == 1:  # form bodies with odd keys and values
            pairs = []
            for _ in range(rng.randint(0, 8)):
                key = rng.choice(["Action", "QueueUrl", "QueueName", "MessageBody",
                                  "MaxNumberOfMessages", "Attribute.1.Name", "Attribute.1.Value",
                                  "Attribute.N.Name", "MessageAttribute.1.Value.DataType",
                                  "SendMessageBatchRequestEntry.1.Id", "Entries.0.Id",
                                  "Tag.1.Key", "AttributeName.99999999999", "%", "=", ""])
                value = rng.choice(["", "ReceiveMessage", "SendMessage", "CreateQueue",
                                    queue_url, "-5", "99999999999999999999", "%ff", "\x00",
                                    "x" * 2000, "SendMessageBatch", "ListQueues"])
                pairs.append(f"{urllib.parse.quote(key, safe='%=')}="
                             f"{urllib.parse.quote(value, safe='%')}")
            body = "&".join(pairs).encode()
            headers["Content-Type"] = FORM_CT
            headers.pop("X-Amz-Target", None)
            method, path = "POST", rng.choice(["/", queue_path])
        elif kind == 2:  # random bytes
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 3000)))
            method, path = rng.choice(methods), rng.choice(paths)
        else:  # nested / huge JSON and odd paths
            depth = rng.choice([10, 100, 5000])
            body = (b"[" * depth) + (b"]" * depth) if rng.random() < 0.5 else \
                json.dumps({"QueueName": "a" * rng.choice([0, 81, 100000])}).encode()
            method, path = rng.choice(methods), rng.choice(paths)
        if method in ("GET", "HEAD", "OPTIONS", "DELETE") and rng.random() < 0.5:
            body = b""
        yield method, path, body, headers


@pytest.mark.timeout(300)
def test_junk_never_causes_server_errors(endpoint, raw_queue):
    """A few hundred malformed requests: every answer is < 500 and the server stays up."""
    _, url = raw_queue
    failures = []
    for method, path, body, headers in _junk_requests(url):
        try:
            resp = request(endpoint, method, path, body, headers, timeout=30)
        except (http.client.HTTPException, OSError) as e:
            failures.append((method, path, headers, body[:200], repr(e)))
            continue
        if resp.status >= 500:
            failures.append((method, path, headers, body[:200], resp.status, resp.body[:300]))
    status, _ = http_get_json(endpoint + "/health")
    assert status == 200
    assert not failures, f"{len(failures)} bad answers, first ones: {failures[:5]}"
    ok = json_call(endpoint, "SendMessage", {"QueueUrl": url, "MessageBody": "still alive"})
    assert ok.status == 200, ok
