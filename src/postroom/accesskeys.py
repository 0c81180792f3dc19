"""AWS-style access key ids that carry their account, as AWS's own do.

An AWS access key id is a 4-letter prefix (``AKIA`` long-term, ``ASIA`` temporary) and 16
base32 characters; bits 7..46 of the first six decoded bytes are the account number (what
STS GetAccessKeyInfo reports). Postroom issues keys the same way, so a request signed with
a key it issued is served in the key's account without any lookup.
"""

from __future__ import annotations

import base64
import re
import secrets

_AWS_KEY = re.compile(r"^(AKIA|ASIA)[A-Z2-7]{16}$")
_ACCOUNT_MASK = 0x7FFFFFFFFF80
_MAX_ACCOUNT = 999_999_999_999


def new_access_key_id(prefix: str, account: str) -> str:
    """A fresh key id (``prefix`` AKIA or ASIA) that encodes ``account``."""
    head = (int(account) << 7) | secrets.randbits(7)
    raw = head.to_bytes(6, "big") + secrets.token_bytes(4)
    return prefix + base64.b32encode(raw).decode()


def account_from_access_key(key: str) -> str | None:
    """The account encoded in an AWS-format access key id, else None."""
    if not _AWS_KEY.match(key):
        return None
    head = int.from_bytes(base64.b32decode(key[4:])[:6], "big")
    account = (head & _ACCOUNT_MASK) >> 7
    return f"{account:012d}" if account <= _MAX_ACCOUNT else None


def new_secret_key() -> str:
    """A 40-character secret access key."""
    return base64.b64encode(secrets.token_bytes(30)).decode()


_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def new_unique_id(prefix: str) -> str:
    """An IAM unique id: a 4-letter prefix (AROA role, ANPA policy, AIDA user) and 17
    base32 characters, 21 in all as AWS's."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))
