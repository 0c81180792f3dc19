"""Execution environments for functions: local processes speaking the Lambda Runtime API.

Knows nothing of queues or topics; ``lambda_/`` drives it through ``runtime.api``.
"""
