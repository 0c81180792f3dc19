"""IAM: roles, inline and managed policies, users and access keys (stored, not enforced)."""
