"""STS: caller identity and temporary credentials (issued and remembered, never enforced)."""
