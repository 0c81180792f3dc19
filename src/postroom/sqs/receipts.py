"""Receipt handles: an opaque token naming one receipt of one message in one queue."""

from __future__ import annotations

import base64
import binascii
import struct

from postroom.sqs.errors import receipt_handle_is_invalid

_FORMAT = struct.Struct(">BQQQ")
_VERSION = 1


def encode(queue_id: int, seq: int, receipt: int) -> str:
    return base64.urlsafe_b64encode(_FORMAT.pack(_VERSION, queue_id, seq, receipt)).decode()


def decode(handle: str, queue_id: int) -> tuple[int, int]:
    """Return (seq, receipt) or raise ReceiptHandleIsInvalid (also for another queue's handle)."""
    try:
        version, owner, seq, receipt = _FORMAT.unpack(base64.urlsafe_b64decode(handle.encode()))
    except (binascii.Error, struct.error, ValueError, UnicodeEncodeError):
        raise receipt_handle_is_invalid(handle) from None
    if version != _VERSION or owner != queue_id:
        raise receipt_handle_is_invalid(handle)
    return seq, receipt
