"""Amazon SNS: topics, subscriptions, publish and fan-out delivery."""
