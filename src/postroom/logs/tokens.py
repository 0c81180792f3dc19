"""Paging tokens. GetLogEvents answers AWS's ``f/<56 digits>`` / ``b/<56 digits>`` forms;
here the digits are the event position (timestamp, seq) and the stream's id, so a token is
checked against the stream it is used with."""

from __future__ import annotations

import base64
import re

import orjson

from postroom.logs.errors import invalid_token
from postroom.storage.logs import Position

_EVENT_TOKEN = re.compile(r"^([fb])/(\d{20})(\d{20})(\d{16})$")


def event_token(direction: str, position: Position, stream_id: int) -> str:
    return f"{direction}/{position.timestamp:020d}{position.seq:020d}{stream_id:016d}"


def parse_event_token(token: str, stream_id: int) -> tuple[str, Position]:
    """(direction 'f' or 'b', position) of a GetLogEvents token for ``stream_id``."""
    match = _EVENT_TOKEN.match(token)
    if match is None or int(match.group(4)) != stream_id:
        raise invalid_token()
    return match.group(1), Position(int(match.group(2)), int(match.group(3)))


def opaque_token(kind: str, state: dict) -> str:
    """A token for list/filter paging carrying ``state``, tied to ``kind``."""
    return base64.urlsafe_b64encode(orjson.dumps({"k": kind, **state})).decode()


def parse_opaque_token(token: str, kind: str) -> dict:
    try:
        state = orjson.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, orjson.JSONDecodeError):
        raise invalid_token() from None
    if not isinstance(state, dict) or state.get("k") != kind:
        raise invalid_token()
    return state
