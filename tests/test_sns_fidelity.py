"""SNS answers as AWS gives them (issue 10): mobile push, SMS, data protection, error
texts and status codes, envelope and policy shapes. Facts from AWS's documentation and
recorded AWS answers."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError
from server import error_code
from sns_helpers import get_records, http_get, signed_request, sns_client, topic_name

pytest_plugins = ["sns_helpers"]


def _error(call, *args, **kwargs) -> ClientError:
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    return e.value


def _message(error: ClientError) -> str:
    return error.response["Error"]["Message"]


def _status(error: ClientError) -> int:
    return error.response["ResponseMetadata"]["HTTPStatusCode"]


def _phone() -> str:
    return "+1555" + str(uuid.uuid4().int)[:7]


# --------------------------------------------------------------------------- error wire


def test_query_errors_carry_no_detail_element(endpoint):
    body = "Action=GetTopicAttributes&Version=2010-03-31&TopicArn=arn:aws:sns:us-east-1:000000000000:nope"
    request = signed_request(endpoint + "/", service="sns", method="POST", data=body.encode(),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("expected an error")
    except urllib.error.HTTPError as e:
        xml = e.read().decode()
        assert e.code == 404
    assert "<Code>NotFound</Code>" in xml
    assert "<Detail" not in xml


def test_topic_name_errors(sns):
    e = _error(sns.create_topic, Name="bad name")
    assert (error_code(e), _message(e)) == ("InvalidParameter", "Invalid parameter: Topic Name")
    e = _error(sns.create_topic, Name="nofifo", Attributes={"FifoTopic": "true"})
    assert _message(e).startswith("Fifo Topic names must end with .fifo")


def test_subscribe_endpoint_errors(sns, make_topic):
    arn = make_topic()
    cases = [
        ("sqs", "not-an-arn", "Invalid parameter: SQS endpoint ARN"),
        ("http", "https://example.com", "Invalid parameter: Endpoint must match the specified protocol"),
        ("sms", "abc", "Invalid SMS endpoint: abc"),
        ("carrier-pigeon", "x", "Invalid parameter: Amazon SNS does not support this protocol string: carrier-pigeon"),
    ]
    for protocol, endpoint_value, message in cases:
        e = _error(sns.subscribe, TopicArn=arn, Protocol=protocol, Endpoint=endpoint_value)
        assert (error_code(e), _message(e)) == ("InvalidParameter", message)


def test_fifo_queue_cannot_subscribe_to_standard_topic(sns, make_topic, make_sqs_queue):
    e = _error(sns.subscribe, TopicArn=make_topic(), Protocol="sqs", Endpoint=make_sqs_queue(fifo=True).arn)
    assert _message(e) == ("Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not "
                           "be subscribed to standard SNS topics")


def test_topic_arn_of_another_region_is_invalid(sns, make_topic):
    arn = make_topic()
    other = arn.replace(":us-east-1:", ":eu-west-1:")
    for call, kwargs in ((sns.get_topic_attributes, {"TopicArn": other}),
                         (sns.publish, {"TopicArn": other, "Message": "m"}),
                         (sns.delete_topic, {"TopicArn": other})):
        e = _error(call, **kwargs)
        assert (error_code(e), _message(e)) == ("InvalidParameter", "Invalid parameter: TopicArn")


def test_unsubscribe_is_idempotent(sns, make_topic, make_sqs_queue, subscribe_queue):
    arn = make_topic()
    sub = subscribe_queue(arn, make_sqs_queue())
    sns.unsubscribe(SubscriptionArn=sub)
    sns.unsubscribe(SubscriptionArn=sub)  # gone already: still a success
    e = _error(sns.unsubscribe, SubscriptionArn=arn)
    assert (error_code(e), _message(e)) == ("InvalidParameter", "Invalid parameter: SubscriptionId")
    e = _error(sns.unsubscribe, SubscriptionArn="nonsense")
    assert _message(e) == "Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, not 1"


def test_subscription_arn_checks(sns, make_topic, make_sqs_queue, subscribe_queue):
    arn = make_topic()
    sub = subscribe_queue(arn, make_sqs_queue())
    for call in (sns.get_subscription_attributes, sns.unsubscribe):
        e = _error(call, SubscriptionArn="nonsense")
        assert _message(e) == "Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, not 1"
        e = _error(call, SubscriptionArn=arn)
        assert _message(e) == "Invalid parameter: SubscriptionId"
    sns.unsubscribe(SubscriptionArn=sub)
    e = _error(sns.get_subscription_attributes, SubscriptionArn=sub)
    assert (error_code(e), _status(e), _message(e)) == ("NotFound", 404, "Subscription does not exist")


def test_confirm_with_unknown_token_is_invalid_parameter(sns, make_topic):
    arn = make_topic()
    token = "51b2ff3edb" * 28 + "aaca1ff3"  # shaped like AWS's: 288 hex digits
    e = _error(sns.confirm_subscription, TopicArn=arn, Token=token)
    assert (error_code(e), _status(e), _message(e)) == ("InvalidParameter", 400, "Invalid parameter: Token")
    e = _error(sns.confirm_subscription, TopicArn=arn[:-1] + "x", Token=token)  # no such topic
    assert (error_code(e), _status(e), _message(e)) == ("InvalidParameter", 400, "Invalid parameter: Token")
    e = _error(sns.confirm_subscription, TopicArn=arn, Token="randomtoken")
    assert (error_code(e), _message(e)) == ("InvalidParameter", "Invalid token")


def test_confirmation_token_shape(sns, make_topic, endpoint):
    arn = make_topic()
    sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="someone@example.com")
    [record] = [r for r in get_records(endpoint) if r["message"].get("TopicArn") == arn]
    assert re.fullmatch(r"[0-9a-f]{288}", record["message"]["Token"])


# --------------------------------------------------------------------------- shapes


def test_add_permission_statement_shape(sns, make_topic):
    arn = make_topic()
    sns.add_permission(TopicArn=arn, Label="one", AWSAccountId=["111122223333"], ActionName=["Publish"])
    sns.add_permission(TopicArn=arn, Label="two", AWSAccountId=["111122223333", "444455556666"],
                       ActionName=["Publish", "Subscribe"])
    policy = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert policy["Version"] == "2008-10-17"
    assert by_sid["one"] == {"Sid": "one", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                             "Action": "SNS:Publish", "Resource": arn}
    assert by_sid["two"]["Principal"]["AWS"] == ["arn:aws:iam::111122223333:root", "arn:aws:iam::444455556666:root"]
    assert by_sid["two"]["Action"] == ["SNS:Publish", "SNS:Subscribe"]
    e = _error(sns.add_permission, TopicArn=arn, Label="three", AWSAccountId=["111122223333"],
               ActionName=["DoEverything"])
    assert _message(e) == "Invalid parameter: Policy statement action out of service scope!"


def test_subscription_principal(sns, make_topic, make_sqs_queue, subscribe_queue):
    sub = subscribe_queue(make_topic(), make_sqs_queue())
    attributes = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attributes["SubscriptionPrincipal"] == "arn:aws:iam::000000000000:user/test"


def test_envelope_urls_and_fifo_envelope(sns, queues, make_topic, make_sqs_queue, subscribe_queue, endpoint):
    arn = make_topic()
    queue = make_sqs_queue()
    sub = subscribe_queue(arn, queue)
    sns.publish(TopicArn=arn, Message="hello")
    [message] = queues.receive_message(QueueUrl=queue.url, WaitTimeSeconds=5)["Messages"]
    envelope = json.loads(message["Body"])
    assert re.fullmatch(r".*/SimpleNotificationService-[0-9a-f]{32}\.pem", envelope["SigningCertURL"])
    status, pem = http_get(envelope["SigningCertURL"])
    assert status == 200 and pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert envelope["UnsubscribeURL"] == f"{endpoint}/?Action=Unsubscribe&SubscriptionArn={sub}"

    fifo_arn = make_topic(fifo=True, attributes={"ContentBasedDeduplication": "true"})
    fifo_queue = make_sqs_queue(fifo=True)
    subscribe_queue(fifo_arn, fifo_queue)
    sns.publish(TopicArn=fifo_arn, Message="ordered", MessageGroupId="g")
    [message] = queues.receive_message(QueueUrl=fifo_queue.url, WaitTimeSeconds=5)["Messages"]
    fifo_envelope = json.loads(message["Body"])
    assert "SequenceNumber" in fifo_envelope
    # AWS signs no FIFO-topic envelope.
    assert not {"Signature", "SignatureVersion", "SigningCertURL"} & set(fifo_envelope)


def test_raw_subscription_dead_letter_keeps_message_attributes(sns, queues, make_topic, make_sqs_queue,
                                                               subscribe_queue):
    arn = make_topic()
    dlq = make_sqs_queue()
    gone = make_sqs_queue()
    subscribe_queue(arn, gone, raw=True, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq.arn}))
    queues.delete_queue(QueueUrl=gone.url)
    sns.publish(TopicArn=arn, Message="to the dlq",
                MessageAttributes={"color": {"DataType": "String", "StringValue": "red"}})
    [message] = queues.receive_message(QueueUrl=dlq.url, WaitTimeSeconds=5,
                                       MessageAttributeNames=["All"])["Messages"]
    assert message["Body"] == "to the dlq"
    assert message["MessageAttributes"] == {"color": {"DataType": "String", "StringValue": "red"}}


# --------------------------------------------------------------------------- data protection


def test_data_protection_policy_round_trip(sns, make_topic):
    arn = make_topic()
    assert sns.get_data_protection_policy(ResourceArn=arn)["DataProtectionPolicy"] == ""
    policy = json.dumps({"Name": "p", "Description": "", "Version": "2021-06-01", "Statement": []})
    sns.put_data_protection_policy(ResourceArn=arn, DataProtectionPolicy=policy)
    assert sns.get_data_protection_policy(ResourceArn=arn)["DataProtectionPolicy"] == policy
    e = _error(sns.put_data_protection_policy, ResourceArn=arn + "-missing", DataProtectionPolicy=policy)
    assert error_code(e) == "NotFound"


# --------------------------------------------------------------------------- mobile push


@pytest.fixture
def application(sns):
    arns: list[str] = []

    def make(platform="GCM", name=None, **attributes):
        attrs = {"PlatformCredential": "secret", **attributes}
        arn = sns.create_platform_application(Name=name or topic_name("app"), Platform=platform,
                                              Attributes=attrs)["PlatformApplicationArn"]
        arns.append(arn)
        return arn

    yield make
    for arn in arns:
        sns.delete_platform_application(PlatformApplicationArn=arn)


def test_platform_application_lifecycle(sns, application):
    name = topic_name("app")
    arn = application(name=name)
    assert arn == f"arn:aws:sns:us-east-1:000000000000:app/GCM/{name}"
    attributes = sns.get_platform_application_attributes(PlatformApplicationArn=arn)["Attributes"]
    assert attributes == {"Enabled": "true"}  # credentials are never shown
    sns.set_platform_application_attributes(PlatformApplicationArn=arn,
                                            Attributes={"SuccessFeedbackSampleRate": "50"})
    listed = sns.list_platform_applications()["PlatformApplications"]
    assert {"PlatformApplicationArn": arn, "Attributes": {"Enabled": "true", "SuccessFeedbackSampleRate": "50"}} in listed
    e = _error(sns.create_platform_application, Name="x", Platform="PAGER", Attributes={"PlatformCredential": "c"})
    assert _message(e) == "Invalid parameter: Platform Reason: PAGER is not supported"
    e = _error(sns.create_platform_application, Name="x", Platform="APNS", Attributes={"PlatformCredential": "c"})
    assert _message(e) == ("Invalid parameter: Attributes Reason: PlatformCredential attribute provided "
                           "without PlatformPrincipal")
    sns.delete_platform_application(PlatformApplicationArn=arn)
    e = _error(sns.get_platform_application_attributes, PlatformApplicationArn=arn)
    assert (error_code(e), _status(e), _message(e)) == ("NotFound", 404, "PlatformApplication does not exist")


def test_platform_endpoint_idempotency_and_publish(sns, application, endpoint):
    app = application()
    first = sns.create_platform_endpoint(PlatformApplicationArn=app, Token="tok-1",
                                         CustomUserData="user")["EndpointArn"]
    assert re.fullmatch(rf"{app.replace(':app/', ':endpoint/')}/[0-9a-f-]{{36}}", first)
    # The same token and attributes: the same endpoint; other attributes: an error.
    assert sns.create_platform_endpoint(PlatformApplicationArn=app, Token="tok-1",
                                        CustomUserData="user")["EndpointArn"] == first
    e = _error(sns.create_platform_endpoint, PlatformApplicationArn=app, Token="tok-1", CustomUserData="other")
    assert _message(e) == (f"Invalid parameter: Token Reason: Endpoint {first} already exists with the same "
                           "Token, but different attributes.")
    assert sns.get_endpoint_attributes(EndpointArn=first)["Attributes"] == {
        "Enabled": "true", "Token": "tok-1", "CustomUserData": "user"}
    listed = sns.list_endpoints_by_platform_application(PlatformApplicationArn=app)["Endpoints"]
    assert [e["EndpointArn"] for e in listed] == [first]

    message_id = sns.publish(TargetArn=first, Message=json.dumps({"GCM": "{}"}), MessageStructure="json")["MessageId"]
    assert any(r["endpoint"] == first and r["message"]["MessageId"] == message_id for r in get_records(endpoint))

    sns.set_endpoint_attributes(EndpointArn=first, Attributes={"Enabled": "false"})
    e = _error(sns.publish, TargetArn=first, Message="push")
    assert (error_code(e), _message(e)) == ("EndpointDisabled", "Endpoint is disabled")
    sns.delete_endpoint(EndpointArn=first)
    sns.delete_endpoint(EndpointArn=first)  # idempotent
    e = _error(sns.get_endpoint_attributes, EndpointArn=first)
    assert (error_code(e), _message(e)) == ("NotFound", "Endpoint does not exist")
    e = _error(sns.publish, TargetArn=first, Message="push")
    assert _message(e) == "Invalid parameter: TargetArn Reason: No endpoint found for the target arn specified"


def test_mobile_state_survives_restart(private_server, tmp_path):
    server = private_server(data_dir=tmp_path / "mobile")
    client = sns_client(server.endpoint)
    app = client.create_platform_application(Name="durable", Platform="GCM",
                                             Attributes={"PlatformCredential": "c"})["PlatformApplicationArn"]
    ep = client.create_platform_endpoint(PlatformApplicationArn=app, Token="t")["EndpointArn"]
    client.set_sms_attributes(attributes={"DefaultSMSType": "Transactional"})
    server.stop()
    client = sns_client(private_server(data_dir=tmp_path / "mobile").endpoint)
    assert client.get_endpoint_attributes(EndpointArn=ep)["Attributes"]["Token"] == "t"
    assert client.get_sms_attributes()["attributes"]["DefaultSMSType"] == "Transactional"


# --------------------------------------------------------------------------- SMS


def test_sms_attributes(sns):
    sns.set_sms_attributes(attributes={"DefaultSMSType": "Transactional", "DefaultSenderID": "Postroom"})
    got = sns.get_sms_attributes()["attributes"]
    assert got["DefaultSMSType"] == "Transactional" and got["MonthlySpendLimit"] == "1"
    assert sns.get_sms_attributes(attributes=["DefaultSenderID"])["attributes"] == {"DefaultSenderID": "Postroom"}
    e = _error(sns.set_sms_attributes, attributes={"Colour": "blue"})
    assert (error_code(e), _message(e)) == ("InvalidParameter", "Colour is not a valid attribute")
    e = _error(sns.set_sms_attributes, attributes={"DefaultSMSType": "Urgent"})
    assert _message(e) == "DefaultSMSType is invalid"


def test_opt_out_and_opt_in(sns, endpoint):
    number = _phone()
    assert sns.check_if_phone_number_is_opted_out(phoneNumber=number)["isOptedOut"] is False
    status, _ = http_get(signed_request(f"{endpoint}/_postroom/sns/opt-out?phoneNumber=%2B{number[1:]}"))
    assert status == 200
    assert sns.check_if_phone_number_is_opted_out(phoneNumber=number)["isOptedOut"] is True
    assert number in sns.list_phone_numbers_opted_out()["phoneNumbers"]
    sns.publish(PhoneNumber=number, Message="not delivered")
    assert not any(r["endpoint"] == number for r in get_records(endpoint))
    sns.opt_in_phone_number(phoneNumber=number)
    assert sns.check_if_phone_number_is_opted_out(phoneNumber=number)["isOptedOut"] is False
    e = _error(sns.opt_in_phone_number, phoneNumber="12")
    assert _message(e) == "Invalid parameter: PhoneNumber Reason: input incorrectly formatted"


def test_publish_validates_phone_number(sns):
    e = _error(sns.publish, PhoneNumber="+0abc", Message="hi")
    assert (error_code(e), _message(e)) == (
        "InvalidParameter", "Invalid parameter: PhoneNumber Reason: +0abc is not valid to publish to")


def test_sms_sandbox_numbers(sns, endpoint):
    assert sns.get_sms_sandbox_account_status()["IsInSandbox"] is False
    number = _phone()
    sns.create_sms_sandbox_phone_number(PhoneNumber=number, LanguageCode="en-US")
    listed = sns.list_sms_sandbox_phone_numbers()["PhoneNumbers"]
    assert {"PhoneNumber": number, "Status": "Pending"} in listed
    [record] = [r for r in get_records(endpoint) if r["endpoint"] == number]
    password = re.search(r"\d{6}", record["message"]["Message"]).group()
    e = _error(sns.verify_sms_sandbox_phone_number, PhoneNumber=number,
               OneTimePassword="000000" if password != "000000" else "111111")
    assert error_code(e) == "VerificationException"
    sns.verify_sms_sandbox_phone_number(PhoneNumber=number, OneTimePassword=password)
    assert {"PhoneNumber": number, "Status": "Verified"} in sns.list_sms_sandbox_phone_numbers()["PhoneNumbers"]
    sns.delete_sms_sandbox_phone_number(PhoneNumber=number)
    e = _error(sns.delete_sms_sandbox_phone_number, PhoneNumber=number)
    assert (error_code(e), _status(e)) == ("ResourceNotFound", 404)
    assert sns.list_origination_numbers()["PhoneNumbers"] == []


def test_every_modelled_operation_is_served(sns_unvalidated):
    """No operation of botocore's SNS model answers "not supported"."""
    for operation in sns_unvalidated.meta.service_model.operation_names:
        method = getattr(sns_unvalidated, re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()
                         .replace("s_m_s", "sms"))
        try:
            method()
        except ClientError as e:
            assert "not supported" not in _message(e), operation
            assert _status(e) < 500, (operation, e.response)


def test_message_group_id_on_standard_topic_reaches_standard_queue(sns, queues, make_topic, make_sqs_queue,
                                                                    subscribe_queue):
    arn = make_topic()
    queue = make_sqs_queue()
    subscribe_queue(arn, queue, raw=True)
    sns.publish(TopicArn=arn, Message="fair", MessageGroupId="tenant-1")
    [message] = queues.receive_message(QueueUrl=queue.url, WaitTimeSeconds=5,
                                       MessageSystemAttributeNames=["MessageGroupId"])["Messages"]
    assert message["Attributes"] == {"MessageGroupId": "tenant-1"}


def test_attribute_error_wording_per_operation(sns, make_topic, make_sqs_queue, subscribe_queue):
    """A map of attributes gets "Attributes Reason: ", a Set*Attributes call none."""
    arn = make_topic()
    queue = make_sqs_queue()
    e = _error(sns.subscribe, TopicArn=arn, Protocol="sqs", Endpoint=queue.arn,
               Attributes={"RawMessageDelivery": "wrongvalue"})
    assert _message(e) == ("Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value "
                           "[wrongvalue]. Must be true or false.")
    sub = subscribe_queue(arn, queue)
    cases = [
        ("FakeAttribute", "x", "Invalid parameter: AttributeName"),
        ("RawMessageDelivery", "test-ValUe",
         "Invalid parameter: RawMessageDelivery: Invalid value [test-ValUe]. Must be true or false."),
        ("RedrivePolicy", json.dumps({"deadLetterTargetArn": "fake-arn"}),
         "Invalid parameter: RedrivePolicy: deadLetterTargetArn is an invalid arn"),
    ]
    for name, value, message in cases:
        e = _error(sns.set_subscription_attributes, SubscriptionArn=sub, AttributeName=name, AttributeValue=value)
        assert _message(e) == message
    e = _error(sns.set_topic_attributes, TopicArn=arn, AttributeName="FifoTopic", AttributeValue="true")
    assert _message(e) == "Invalid parameter: AttributeName"


def test_malformed_topic_arn_counts_elements(sns):
    e = _error(sns.get_topic_attributes, TopicArn="nope")
    assert _message(e) == "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1"
    e = _error(sns.publish, TopicArn="arn:aws", Message="m")
    assert _message(e) == "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 2"


def test_publish_batch_request_error_texts(sns, make_topic):
    arn = make_topic()
    e = _error(sns.publish_batch, TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "same", "Message": "a"}, {"Id": "same", "Message": "b"}])
    assert (error_code(e), _message(e)) == (
        "BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id.")
    e = _error(sns.publish_batch, TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "m", "MessageAttributes": {"attr1": {"DataType": "String", "StringValue": ""}}}])
    assert (error_code(e), _message(e)) == (
        "ParameterValueInvalid",
        "The message attribute 'attr1' must contain non-empty message attribute value for message "
        "attribute type 'String'.")


def test_message_attribute_name_and_field_errors(sns, make_topic):
    arn = make_topic()
    cases = [
        ("a^b", {"DataType": "String", "StringValue": "v"},
         "Invalid non-alphanumeric character '#x5E' was found in the message attribute name. Can only include "
         "alphanumeric characters, hyphens, underscores, or dots."),
        (".ab", {"DataType": "String", "StringValue": "v"},
         "Invalid message attribute name starting with character '.' was found."),
        ("ab.", {"DataType": "String", "StringValue": "v"},
         "Invalid message attribute name ending with character '.' was found."),
        ("a..b", {"DataType": "String", "StringValue": "v"},
         "Message attribute name can not have successive '.' character."),
        ("x" * 257, {"DataType": "String", "StringValue": "v"},
         "Length of message attribute name must be less than 256 bytes."),
        ("attr1", {"DataType": "String", "BinaryValue": b"\x02"},
         "The message attribute 'attr1' with type 'String' must use field 'String'."),
        ("attr1", {"DataType": "Binary", "StringValue": "v"},
         "The message attribute 'attr1' with type 'Binary' must use field 'Binary'."),
    ]
    for name, value, message in cases:
        e = _error(sns.publish, TopicArn=arn, Message="m", MessageAttributes={name: value})
        assert (error_code(e), _message(e)) == ("ParameterValueInvalid", message), name


def test_fifo_subscription_needs_fifo_dead_letter_queue(sns, make_topic, make_sqs_queue):
    arn = make_topic(fifo=True)
    queue = make_sqs_queue(fifo=True)
    standard_dlq = make_sqs_queue()
    e = _error(sns.subscribe, TopicArn=arn, Protocol="sqs", Endpoint=queue.arn,
               Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": standard_dlq.arn})})
    assert _message(e) == ("Invalid parameter: Attributes Reason: RedrivePolicy: must use a FIFO queue as DLQ "
                           "for a FIFO Subscription to a FIFO Topic.")
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue.arn)["SubscriptionArn"]
    e = _error(sns.set_subscription_attributes, SubscriptionArn=sub, AttributeName="RedrivePolicy",
               AttributeValue=json.dumps({"deadLetterTargetArn": standard_dlq.arn}))
    assert _message(e) == ("Invalid parameter: RedrivePolicy: must use a FIFO queue as DLQ for a FIFO "
                           "Subscription to a FIFO Topic.")


def test_list_subscriptions_by_topic_pages(sns, make_topic):
    arn = make_topic()
    wanted = {f"arn:aws:sqs:us-east-1:000000000000:paging-{i}" for i in range(105)}
    for endpoint_arn in wanted:  # queues need not exist to be subscribed
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=endpoint_arn)
    first = sns.list_subscriptions_by_topic(TopicArn=arn)
    assert len(first["Subscriptions"]) == 100 and first["NextToken"]
    second = sns.list_subscriptions_by_topic(TopicArn=arn, NextToken=first["NextToken"])
    assert "NextToken" not in second
    assert {s["Endpoint"] for s in first["Subscriptions"] + second["Subscriptions"]} == wanted


def test_topic_fan_out_skips_disabled_endpoints(sns, application, make_topic, endpoint):
    app = application()
    enabled = sns.create_platform_endpoint(PlatformApplicationArn=app, Token="on")["EndpointArn"]
    disabled = sns.create_platform_endpoint(PlatformApplicationArn=app, Token="off",
                                            Attributes={"Enabled": "false"})["EndpointArn"]
    arn = make_topic()
    for ep in (enabled, disabled):
        sns.subscribe(TopicArn=arn, Protocol="application", Endpoint=ep)
    sns.publish(TopicArn=arn, Message="to phones")
    reached = {r["endpoint"] for r in get_records(endpoint) if r["protocol"] == "application"}
    assert enabled in reached and disabled not in reached
