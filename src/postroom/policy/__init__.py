"""Resource-policy evaluation (SQS queue and SNS topic policies) for cross-account calls."""
