"""STS limits and defaults (AWS STS API reference)."""

from __future__ import annotations

DEFAULT_ROLE_SESSION_SECONDS = 3_600
DEFAULT_SESSION_TOKEN_SECONDS = 43_200  # GetSessionToken: 12 hours
ROOT_MAX_SESSION_TOKEN_SECONDS = 3_600  # the root user's session tokens last at most 1 hour
ROLE_CHAINING_MAX_SECONDS = 3_600  # a role assumed with another role's credentials
