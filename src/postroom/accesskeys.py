"""AWS-style access key ids that carry their account, as AWS's own do.

An AWS access key id is a 4-letter prefix (``AKIA`` long-term, ``ASIA`` temporary) and 16
base32 characters (10 bytes); bits 7..46 of the first six bytes are the account number
(what STS GetAccessKeyInfo reports). Postroom issues keys the same way and marks them
with a 16-bit check in the last bytes, so a request signed with a key it issued is served
in the key's account without any lookup, while real AWS keys left in a user's environment
keep meaning the default account (all but 1 in 65,536 of them).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

_AWS_KEY = re.compile(r"^(AKIA|ASIA)[A-Z2-7]{16}$")
_ACCOUNT_MASK = 0x7FFFFFFFFF80
_MAX_ACCOUNT = 999_999_999_999
_MARK = b"postroom-access-key:"


def _check(body: bytes) -> bytes:
    return hashlib.sha256(_MARK + body).digest()[:2]


def new_access_key_id(prefix: str, account: str) -> str:
    """A fresh key id (``prefix`` AKIA or ASIA) that encodes ``account`` (23 random bits:
    callers make sure it is not in use)."""
    head = ((int(account) << 7) | secrets.randbits(7)).to_bytes(6, "big")
    body = head + secrets.token_bytes(2)
    return prefix + base64.b32encode(body + _check(body)).decode()


def account_in_key(key: str) -> str | None:
    """The account any AWS-format access key id encodes (GetAccessKeyInfo), else None."""
    if not _AWS_KEY.match(key):
        return None
    account = (int.from_bytes(base64.b32decode(key[4:])[:6], "big") & _ACCOUNT_MASK) >> 7
    return f"{account:012d}" if account <= _MAX_ACCOUNT else None


def issued_account(key: str) -> str | None:
    """The account of a key id Postroom issued, else None (AWS's own keys included)."""
    if not _AWS_KEY.match(key):
        return None
    raw = base64.b32decode(key[4:])
    if _check(raw[:8]) != raw[8:]:
        return None
    return account_in_key(key)


def new_secret_key() -> str:
    """A 40-character secret access key."""
    return base64.b64encode(secrets.token_bytes(30)).decode()


_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def new_unique_id(prefix: str) -> str:
    """An IAM unique id: a 4-letter prefix (AROA role, ANPA policy, AIDA user) and 17
    base32 characters, 21 in all as AWS's."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))
