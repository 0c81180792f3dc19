"""Postroom: self-hosted, durable messaging that speaks the Amazon SQS, SNS and Lambda APIs."""

__version__ = "0.1.0"
