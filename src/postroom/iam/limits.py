"""Every IAM limit and default in one place (AWS IAM quotas, botocore's IAM model)."""

from __future__ import annotations

DEFAULT_MAX_SESSION_DURATION = 3_600
MAX_POLICY_VERSIONS = 5
MAX_TAGS = 50
MAX_ATTACHED_POLICIES = 10  # managed policies per role (AWS default quota)
MAX_INLINE_POLICY_BYTES = 10_240  # all of a role's inline policies together
MAX_MANAGED_POLICY_BYTES = 6_144
MAX_TRUST_POLICY_BYTES = 2_048
MAX_ROLES = 1_000  # per account (AWS default quota)
MAX_POLICIES = 1_500  # customer managed policies per account
MAX_USERS = 5_000
MAX_ACCESS_KEYS = 2  # per user
DEFAULT_MAX_ITEMS = 100
POLICY_VERSIONS = ("2008-10-17", "2012-10-17")
# Members whose offending value IAM leaves out of its ValidationError messages.
VALUES_NOT_SHOWN = frozenset({"key", "value", "versionId"})
