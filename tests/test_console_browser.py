"""The console in headless Chromium (Debian's ``chromium``, driven by Playwright; no browser
download). Skipped when Playwright or the browser is missing.

Screenshots of each page go to $POSTROOM_CONSOLE_SCREENSHOTS when set (the README's are
made with ``POSTROOM_CONSOLE_SCREENSHOTS=docs/console``), else to a temporary directory.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from lambda_helpers import client as aws_client
from lambda_helpers import create_function
from server import ServerProcess, make_client, unique_name

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = os.environ.get("POSTROOM_CHROMIUM", "/usr/bin/chromium")
if not os.path.exists(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
expect = sync_api.expect


@pytest.fixture(scope="module")
def console_server(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("console-browser"), in_memory=True).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    target = os.environ.get("POSTROOM_CONSOLE_SCREENSHOTS")
    path = Path(target) if target else tmp_path_factory.mktemp("console-shots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page(browser, console_server):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=console_server.endpoint)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("dialog", lambda dialog: dialog.accept())
    yield tab
    context.close()
    assert errors == []  # no script errors on any page


def console_url(fragment: str) -> str:
    return "/_postroom/console#/" + fragment


def arn_of(service: str, name: str) -> str:
    return f"arn:aws:{service}:us-east-1:000000000000:{name}"


def test_queues_page_pages_searches_and_creates(page, console_server, shots):
    sqs = make_client(console_server.endpoint, "json")
    prefix = unique_name("shop")
    dlq = sqs.create_queue(QueueName=f"{prefix}-orders-dlq")["QueueUrl"]
    sqs.create_queue(QueueName=f"{prefix}-orders", Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": arn_of("sqs", f"{prefix}-orders-dlq"), "maxReceiveCount": "3"})})
    for i in range(58):
        sqs.create_queue(QueueName=f"{prefix}-q{i:02d}")
    sqs.send_message(QueueUrl=dlq, MessageBody="failed order")
    page.goto(console_url("queues?search=" + prefix))
    expect(page.locator("tbody tr")).to_have_count(50)
    expect(page.get_by_text("Page 1 of 2 (60 in all)")).to_be_visible()
    dlq_row = page.locator(f"tr[data-queue='{prefix}-orders-dlq']")
    expect(dlq_row.locator("td").nth(2)).to_have_text("1")
    expect(page.locator(f"tr[data-queue='{prefix}-orders'] td").nth(6)).to_have_text(f"{prefix}-orders-dlq")
    page.screenshot(path=shots / "queues.png")
    page.get_by_role("button", name="Next ›").click()
    expect(page.locator("tbody tr")).to_have_count(10)
    expect(page.get_by_text("Page 2 of 2 (60 in all)")).to_be_visible()

    page.fill("input[name=search]", f"{prefix}-new")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No queue matches.")).to_be_visible()
    page.fill("input[name=new-queue]", f"{prefix}-new")
    page.get_by_role("button", name="Create queue").click()
    expect(page.locator(f"tr[data-queue='{prefix}-new']")).to_be_visible()
    page.locator(f"tr[data-queue='{prefix}-new']").get_by_role("button", name="Delete").click()
    expect(page.get_by_text("No queue matches.")).to_be_visible()


def test_queue_page_sends_peeks_purges_and_charts(page, console_server, shots):
    sqs = make_client(console_server.endpoint, "json")
    name = unique_name("orders")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"order": 1}))
    page.goto(console_url("queue/" + quote(arn_of("sqs", name), safe="")))
    expect(page.locator(".card").nth(1)).to_contain_text("1")
    page.fill("textarea[name=body]", '{"order": 2}')
    page.get_by_role("button", name="+ Attribute").click()
    page.fill("input[name=attr-name]", "priority")
    page.fill("input[name=attr-value]", "high")
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_text(re.compile("Sent message [0-9a-f-]{36}"))).to_be_visible()
    # Some traffic for the live charts while the page is open.
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    expect(page.locator(".card").nth(6)).to_contain_text("1")  # Received, refreshed by polling
    page.get_by_role("button", name="Peek").click()
    rows = page.locator("tr.message")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text('{"order": 2}')
    expect(rows.first).to_contain_text("priority (String) = high")
    expect(rows.first.locator("td").nth(4)).to_have_text("0")  # peeking did not receive it
    page.screenshot(path=shots / "queue.png", full_page=True)
    page.get_by_role("button", name="Peek").click()
    expect(rows.first.locator("td").nth(4)).to_have_text("0")
    page.get_by_role("button", name="Purge").click()
    expect(page.get_by_text("The queue is empty.")).to_be_visible()
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_dead_letter_redrive_from_the_page(page, console_server, shots):
    sqs = make_client(console_server.endpoint, "json")
    dlq_name, name = unique_name("payments-dlq"), unique_name("payments")
    sqs.create_queue(QueueName=dlq_name)
    src = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": arn_of("sqs", dlq_name), "maxReceiveCount": "1"})})["QueueUrl"]
    sqs.send_message_batch(QueueUrl=src, Entries=[{"Id": str(i), "MessageBody": f"p{i}"} for i in range(3)])
    sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10, VisibilityTimeout=0)
    sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10)  # all three move to the DLQ
    page.goto(console_url("queue/" + quote(arn_of("sqs", dlq_name), safe="")))
    expect(page.get_by_text(f"dead-letter source of: {name}")).to_be_visible()
    expect(page.locator(".card").nth(1)).to_contain_text("3")
    page.get_by_role("button", name="Start redrive").click()
    task = page.locator("tr.task").first
    expect(task).to_contain_text("COMPLETED")
    expect(task.locator("td").nth(1)).to_have_text("3")
    page.screenshot(path=shots / "queue-redrive.png", full_page=True)
    assert len(sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10)["Messages"]) == 3


def test_topic_pages_publish_and_show_failures(page, console_server, shots):
    sqs = make_client(console_server.endpoint, "json")
    sns = aws_client(console_server.endpoint, "sns")
    topic_name = unique_name("events")
    topic = sns.create_topic(Name=topic_name)["TopicArn"]
    name = unique_name("audit")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn_of("sqs", name), Attributes={
        "FilterPolicy": json.dumps({"kind": ["order"]}), "RawMessageDelivery": "true"})
    gone = unique_name("removed")
    gone_url = sqs.create_queue(QueueName=gone)["QueueUrl"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn_of("sqs", gone))
    sqs.delete_queue(QueueUrl=gone_url)
    sns.subscribe(TopicArn=topic, Protocol="https", Endpoint="https://hooks.example.com/events")

    page.goto(console_url("topics?search=" + topic_name))
    row = page.locator(f"tr[data-topic='{topic_name}']")
    expect(row.locator("td").nth(2)).to_have_text("2")
    expect(row.locator("td").nth(3)).to_have_text("1")
    page.screenshot(path=shots / "topics.png")
    row.get_by_role("link").click()
    expect(page.locator("tr.subscription")).to_have_count(3)
    expect(page.locator("tr.subscription", has_text="pending")).to_contain_text("https://hooks.example.com/events")
    page.fill("textarea[name=message]", "order 17 shipped")
    page.get_by_role("button", name="+ Attribute").click()
    page.fill("input[name=attr-name]", "kind")
    page.fill("input[name=attr-value]", "order")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text(re.compile("Published message [0-9a-f-]{36}"))).to_be_visible()
    expect(page.locator("tr.failure", has_text=gone)).to_contain_text("The queue does not exist.")
    page.screenshot(path=shots / "topic.png", full_page=True)
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "order 17 shipped"


def test_function_pages_invoke_and_show_logs(page, console_server, shots):
    lam = aws_client(console_server.endpoint)
    name = create_function(lam, {"app.py": (
        "def handler(event, context):\n"
        "    print('pricing', event['items'], 'items')\n"
        "    return {'total': event['items'] * 9.5}\n"
    )}, name=unique_name("price"))
    page.goto(console_url("functions?search=" + name))
    expect(page.locator(f"tr[data-function='{name}']")).to_contain_text("python3.12")
    page.screenshot(path=shots / "functions.png")
    page.locator(f"tr[data-function='{name}']").get_by_role("link").click()
    page.fill("textarea[name=payload]", '{"items": 4}')
    page.get_by_role("button", name="Invoke").click()
    expect(page.locator("pre.payload")).to_have_text('{"total": 38.0}')
    expect(page.locator("pre.log")).to_contain_text("pricing 4 items")
    expect(page.locator("pre.log")).to_contain_text("REPORT RequestId")
    expect(page.locator("tr.invocation")).to_have_count(1)
    expect(page.locator("pre.events")).to_contain_text("pricing 4 items")  # from /aws/lambda/<name>
    page.screenshot(path=shots / "function.png", full_page=True)


def test_a_failed_request_shows_only_a_clear_message(page, console_server):
    page.goto(console_url("queue/" + quote(arn_of("sqs", "never-created"), safe="")))
    expect(page.locator("#error")).to_have_text("AWS.SimpleQueueService.NonExistentQueue: The specified queue does not exist.")
    expect(page.locator(".card")).to_have_count(0)
    expect(page.locator("section")).to_have_count(0)
    # The server unreachable: the list shows the message and no stale table.
    page.route("**/_postroom/console/api/queues*", lambda route: route.abort())
    page.goto(console_url("queues"))
    expect(page.locator("#error")).to_contain_text("The server could not be reached")
    expect(page.locator("table")).to_have_count(0)
