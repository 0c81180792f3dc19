"""Amazon SQS: queues, messages, visibility, long polling and dead-letter queues."""
