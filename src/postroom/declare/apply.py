"""Apply a resources file through the public APIs (boto3 against a running server).

Idempotent: what exists and matches is left alone, what differs is updated, what is missing
is created; nothing is ever deleted. Each step reports one line ("created queue ...").
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from postroom.declare.config import DEFAULT_ACCOUNT, Config, ConfigError, Resource

DEFAULT_ENDPOINT = "http://localhost:4566"
# Queue attributes that hold JSON: compared by meaning, not by spelling.
_JSON_ATTRIBUTES = {"Policy", "RedrivePolicy", "RedriveAllowPolicy", "DeliveryPolicy", "FilterPolicy",
                    "EffectiveDeliveryPolicy", "DataProtectionPolicy", "ArchivePolicy"}
# Applied once every queue exists, since they name other queues.
_QUEUE_LINKS = ("RedrivePolicy", "RedriveAllowPolicy")
DEFAULT_ROLE = "arn:aws:iam::{account}:role/postroom-declared"


def endpoint_from_env() -> str:
    return os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT


class Applier:
    """Applies one file against ``endpoint_url``; ``report`` gets one line per change."""

    def __init__(self, endpoint_url: str, report: Callable[[str], None] = print) -> None:
        self.endpoint_url = endpoint_url
        self.report = report
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._session: Any = None  # one boto3 session: each service model is loaded once

    def apply(self, config: Config) -> int:
        """Apply everything; the number of changes made (0 when all was already so)."""
        from botocore.exceptions import BotoCoreError, ClientError

        changes = 0
        steps: list[tuple[Resource, Callable[[Resource], int]]] = [
            *((r, self._queue) for r in config.of("queues")),
            *((r, self._queue_links) for r in config.of("queues")),
            *((r, self._topic) for r in config.of("topics")),
            *((r, self._subscription) for r in config.of("subscriptions")),
            *((r, self._function) for r in config.of("functions")),
            *((r, self._mapping) for r in config.of("event_source_mappings")),
        ]
        for res, step in steps:
            try:
                changes += step(res)
            except ClientError as exc:
                error = exc.response.get("Error", {})
                raise res.error(f"{error.get('Code', 'Error')}: {error.get('Message', exc)}") from None
            except (BotoCoreError, ValueError, OSError) as exc:
                raise res.error(str(exc)) from None
        return changes

    # -- clients -------------------------------------------------------------------------

    def client(self, service: str, res: Resource) -> Any:
        key = (service, res.account, res.region)
        if key not in self._clients:
            import boto3
            from botocore.config import Config as BotoConfig

            if self._session is None:
                self._session = boto3.session.Session()
            self._clients[key] = self._session.client(
                service, endpoint_url=self.endpoint_url, region_name=res.region,
                # A 12-digit access key id is the account (see the README); "test" is the default.
                aws_access_key_id=res.account if res.account != DEFAULT_ACCOUNT else "test",
                aws_secret_access_key="test",
                config=BotoConfig(retries={"max_attempts": 2, "mode": "standard"}),
            )
        return self._clients[key]

    def _say(self, res: Resource, what: str) -> int:
        self.report(f"{what} {res.label} ({res.where})")
        return 1

    # -- SQS -----------------------------------------------------------------------------

    def _queue(self, res: Resource) -> int:
        sqs = self.client("sqs", res)
        name, attributes = res.spec["name"], dict(res.spec.get("attributes", {}))
        first = {k: v for k, v in attributes.items() if k not in _QUEUE_LINKS}
        url = _queue_url(sqs, name)
        if url is None:
            kwargs: dict[str, Any] = {"QueueName": name, "Attributes": first}
            if res.spec.get("tags"):
                kwargs["tags"] = res.spec["tags"]
            sqs.create_queue(**kwargs)
            return self._say(res, "created")
        changes = 0
        current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        differ = {k: v for k, v in first.items() if not _same(k, current.get(k), v)}
        if differ:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=differ)
            changes += self._say(res, f"updated {', '.join(sorted(differ))} of")
        wanted_tags = res.spec.get("tags", {})
        tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
        if any(tags.get(k) != v for k, v in wanted_tags.items()):
            sqs.tag_queue(QueueUrl=url, Tags=wanted_tags)
            changes += self._say(res, "tagged")
        return changes

    def _queue_links(self, res: Resource) -> int:
        links = {k: v for k, v in res.spec.get("attributes", {}).items() if k in _QUEUE_LINKS}
        if not links:
            return 0
        sqs = self.client("sqs", res)
        url = _queue_url(sqs, res.spec["name"])
        current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(links))["Attributes"]
        differ = {k: v for k, v in links.items() if not _same(k, current.get(k), v)}
        if not differ:
            return 0
        sqs.set_queue_attributes(QueueUrl=url, Attributes=differ)
        return self._say(res, f"set {', '.join(sorted(differ))} of")

    # -- SNS -----------------------------------------------------------------------------

    def _topic(self, res: Resource) -> int:
        from botocore.exceptions import ClientError

        sns = self.client("sns", res)
        name, attributes = res.spec["name"], res.spec.get("attributes", {})
        arn = f"arn:aws:sns:{res.region}:{res.account}:{name}"
        try:
            current = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("NotFound", "NotFoundException"):
                raise
            kwargs: dict[str, Any] = {"Name": name, "Attributes": attributes}
            if res.spec.get("tags"):
                kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in res.spec["tags"].items()]
            sns.create_topic(**kwargs)
            return self._say(res, "created")
        changes = 0
        differ = sorted(k for k, v in attributes.items() if not _same(k, current.get(k), v))
        for key in differ:
            sns.set_topic_attributes(TopicArn=arn, AttributeName=key, AttributeValue=attributes[key])
        if differ:
            changes += self._say(res, f"updated {', '.join(differ)} of")
        wanted_tags = res.spec.get("tags", {})
        tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arn).get("Tags", [])}
        if any(tags.get(k) != v for k, v in wanted_tags.items()):
            sns.tag_resource(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in wanted_tags.items()])
            changes += self._say(res, "tagged")
        return changes

    def _subscription(self, res: Resource) -> int:
        sns = self.client("sns", res)
        topic = res.spec["topic"]
        arn = topic if topic.startswith("arn:") else f"arn:aws:sns:{res.region}:{res.account}:{topic}"
        protocol, endpoint = res.spec["protocol"], res.spec["endpoint"]
        attributes = res.spec.get("attributes", {})
        existing = None
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn):
            for sub in page["Subscriptions"]:
                if sub["Protocol"] == protocol and sub["Endpoint"] == endpoint:
                    existing = sub["SubscriptionArn"]
        if existing is None or not existing.startswith("arn:"):  # absent, or pending confirmation
            kwargs: dict[str, Any] = {"TopicArn": arn, "Protocol": protocol, "Endpoint": endpoint,
                                      "ReturnSubscriptionArn": True}
            if attributes:
                kwargs["Attributes"] = attributes
            if existing is None:
                sns.subscribe(**kwargs)
                return self._say(res, f"subscribed {endpoint} to {topic}:")
            return 0
        current = sns.get_subscription_attributes(SubscriptionArn=existing)["Attributes"]
        differ = sorted(k for k, v in attributes.items() if not _same(k, current.get(k), v))
        for key in differ:
            sns.set_subscription_attributes(SubscriptionArn=existing, AttributeName=key,
                                            AttributeValue=attributes[key])
        return self._say(res, f"updated {', '.join(differ)} of") if differ else 0

    # -- Lambda --------------------------------------------------------------------------

    def _function(self, res: Resource) -> int:
        from botocore.exceptions import ClientError

        lam = self.client("lambda", res)
        params = {k: v for k, v in res.spec.items() if k != "code_dir"}
        params.setdefault("Role", DEFAULT_ROLE.format(account=res.account))
        code_dir = Path(res.spec["code_dir"])
        if not code_dir.is_absolute():
            code_dir = res.path.parent / code_dir
        archive = zip_directory(code_dir)
        name = params["FunctionName"]
        try:
            current = lam.get_function(FunctionName=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            lam.create_function(**params, Code={"ZipFile": archive})
            _wait_active(lam, name)
            return self._say(res, "created")
        changes = 0
        config = current["Configuration"]
        updatable = _members(lam, "UpdateFunctionConfiguration") - {"FunctionName", "RevisionId"}
        differ = {k: v for k, v in params.items() if k in updatable and not _subset(v, _config_value(config, k))}
        if differ:
            lam.update_function_configuration(FunctionName=name, **differ)
            _wait_active(lam, name)
            changes += self._say(res, f"updated {', '.join(sorted(differ))} of")
        sha = _sha256_b64(archive)
        if config.get("CodeSha256") != sha:
            lam.update_function_code(FunctionName=name, ZipFile=archive)
            _wait_active(lam, name)
            changes += self._say(res, "updated the code of")
        wanted_tags = params.get("Tags", {})
        if any(current.get("Tags", {}).get(k) != v for k, v in wanted_tags.items()):
            lam.tag_resource(Resource=config["FunctionArn"], Tags=wanted_tags)
            changes += self._say(res, "tagged")
        return changes

    def _mapping(self, res: Resource) -> int:
        lam = self.client("lambda", res)
        params = dict(res.spec)
        source, function = params["EventSourceArn"], params["FunctionName"]
        found = lam.list_event_source_mappings(EventSourceArn=source, FunctionName=function)
        mappings = found.get("EventSourceMappings", [])
        if not mappings:
            lam.create_event_source_mapping(**params)
            return self._say(res, f"created event source mapping {source} -> {function}:")
        current = mappings[0]
        updatable = _members(lam, "UpdateEventSourceMapping") - {"UUID", "FunctionName"}
        differ = {k: v for k, v in params.items() if k in updatable and not _subset(v, current.get(k))}
        if "Enabled" in differ and current.get("State") in (("Enabled", "Enabling") if params["Enabled"]
                                                           else ("Disabled", "Disabling")):
            del differ["Enabled"]
        if not differ:
            return 0
        lam.update_event_source_mapping(UUID=current["UUID"], **differ)
        return self._say(res, f"updated {', '.join(sorted(differ))} of")


def apply_file(path: str | Path, endpoint_url: str | None = None, report: Callable[[str], None] = print) -> int:
    """Load and apply ``path``; the number of changes. Raises ConfigError naming file and line."""
    from postroom.declare.config import load

    return Applier(endpoint_url or endpoint_from_env(), report).apply(load(path))


def zip_directory(directory: Path) -> bytes:
    """A zip of ``directory`` that depends only on file names, contents and modes, so the
    same code always has the same CodeSha256 (applying twice changes nothing)."""
    if not directory.is_dir():
        raise ValueError(f"code_dir {str(directory)!r} is not a directory")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in directory.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            info = zipfile.ZipInfo(file.relative_to(directory).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (file.stat().st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, file.read_bytes())
    return buffer.getvalue()


def _sha256_b64(data: bytes) -> str:
    import base64

    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _queue_url(sqs: Any, name: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        return sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as exc:
        if "NonExistentQueue" in exc.response["Error"]["Code"] or "QueueDoesNotExist" in exc.response["Error"]["Code"]:
            return None
        raise


def _same(key: str, current: str | None, wanted: str) -> bool:
    if current == wanted:
        return True
    if current is None or key not in _JSON_ATTRIBUTES:
        return False
    try:
        return _normal(json.loads(current)) == _normal(json.loads(wanted))
    except ValueError:
        return False


def _normal(value: Any) -> Any:
    """JSON with every scalar as text: {"maxReceiveCount": 3} equals {"maxReceiveCount": "3"}."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return str(value).lower() if isinstance(value, bool) else str(value)


def _subset(wanted: Any, current: Any) -> bool:
    """``wanted`` is already so: equal, or (for tables) every key given is equal."""
    if isinstance(wanted, dict) and isinstance(current, dict):
        return all(_subset(v, current.get(k)) for k, v in wanted.items())
    return wanted == current


def _config_value(config: dict[str, Any], key: str) -> Any:
    """A GetFunction configuration value in the shape UpdateFunctionConfiguration takes."""
    value = config.get(key)
    if key == "Layers":
        return [layer["Arn"] for layer in value or []]
    if key == "Environment" and value is None:
        return {"Variables": {}}
    return value


def _members(client: Any, operation: str) -> set[str]:
    return set(client.meta.service_model.operation_model(operation).input_shape.members)


def _wait_active(lam: Any, name: str) -> None:
    """Creation and updates finish at once on Postroom; on AWS they may take a moment."""
    waiter = lam.get_waiter("function_updated_v2")
    waiter.wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


__all__ = ["Applier", "ConfigError", "apply_file", "zip_directory", "endpoint_from_env"]
