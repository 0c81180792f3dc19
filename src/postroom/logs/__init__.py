"""The Amazon CloudWatch Logs API (AWS JSON 1.1): log groups, streams, events and filters."""
