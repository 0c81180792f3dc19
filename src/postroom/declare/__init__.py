"""Declarative resources: a TOML file of queues, topics, subscriptions, functions and event
source mappings, applied idempotently through the public AWS APIs (``postroom apply``)."""
