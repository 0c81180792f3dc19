"""The console's JSON API: (method, path under ``api/``) -> endpoint."""

from __future__ import annotations

from postroom.console import functions, queues, topics
from postroom.console.operations import Endpoint

ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("GET", "queues"): queues.list_queues,
    ("POST", "queues"): queues.create_queue,
    ("GET", "queue"): queues.get_queue,
    ("POST", "queue/delete"): queues.delete_queue,
    ("POST", "queue/send"): queues.send_message,
    ("GET", "queue/peek"): queues.peek_messages,
    ("POST", "queue/purge"): queues.purge_queue,
    ("POST", "queue/redrive"): queues.start_redrive,
    ("POST", "queue/redrive/cancel"): queues.cancel_redrive,
    ("GET", "topics"): topics.list_topics,
    ("POST", "topics"): topics.create_topic,
    ("GET", "topic"): topics.get_topic,
    ("POST", "topic/delete"): topics.delete_topic,
    ("POST", "topic/publish"): topics.publish,
    ("GET", "functions"): functions.list_functions,
    ("GET", "function"): functions.get_function,
    ("POST", "function/invoke"): functions.invoke,
}
