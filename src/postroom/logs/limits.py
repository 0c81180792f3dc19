"""CloudWatch Logs limits and defaults (AWS's documented quotas)."""

RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)
DAY_MS = 86_400_000
MAX_BATCH_BYTES = 1_048_576  # PutLogEvents: UTF-8 message bytes plus 26 per event
EVENT_OVERHEAD_BYTES = 26
MAX_BATCH_SPAN_MS = DAY_MS  # events of one PutLogEvents call span at most 24 h
MAX_PAST_MS = 14 * DAY_MS  # older events are rejected (tooOldLogEventEndIndex)
MAX_FUTURE_MS = 2 * 3_600_000  # newer ones too (tooNewLogEventStartIndex)
DEFAULT_DESCRIBE_LIMIT = 50
DEFAULT_EVENTS_LIMIT = 10_000
MAX_RESPONSE_BYTES = 1_048_576  # GetLogEvents / FilterLogEvents answer at most 1 MB
MAX_TAGS = 50
# FilterLogEvents reads at most this many events per call and answers a nextToken when
# there is more (AWS, too, may answer few or no events with a token).
FILTER_SCAN_BUDGET = 100_000
FILTER_SCAN_CHUNK = 5_000
