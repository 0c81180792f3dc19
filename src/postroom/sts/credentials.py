"""Temporary credentials: ASIA key ids that carry the account, and their STS session."""

from __future__ import annotations

import base64
import secrets

from postroom.accesskeys import new_secret_key
from postroom.storage.iam import SessionRecord


def new_session(key_id: str, account: str, arn: str, user_id: str, expires_at: int) -> SessionRecord:
    # AWS session tokens are long opaque base64 strings; clients only pass them back.
    token = "FQoGZXIvYXdzE" + base64.b64encode(secrets.token_bytes(192)).decode()
    return SessionRecord(key_id, account, arn, user_id,
                         new_secret_key(), token, expires_at)


def credentials(session: SessionRecord, expiration: str) -> dict[str, str]:
    return {
        "AccessKeyId": session.access_key_id,
        "SecretAccessKey": session.secret,
        "SessionToken": session.token,
        "Expiration": expiration,
    }
