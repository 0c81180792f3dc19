"""Lambda's limits and defaults (AWS's quotas page and the API reference)."""

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024  # request and response of a synchronous invocation
MAX_ASYNC_PAYLOAD = 1024 * 1024  # an Event invocation (raised from 256 KB in 2025)
LOG_TAIL_BYTES = 4096  # LogType=Tail returns the last 4 KB

# Asynchronous invocation (the function's event invoke config may lower these).
DEFAULT_MAX_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE_S = 21_600  # six hours
RETRY_DELAYS_S = (60.0, 120.0)  # "about 1 and 2 minutes" between a failed attempt and the next
THROTTLE_BACKOFF_S = (1.0, 300.0)  # throttles and system errors: from 1 s doubling to 5 min
ASYNC_LEASE_S = 960.0  # longer than the longest function timeout (900 s)
ASYNC_CONCURRENCY = 64  # async events run at once by one server
DLQ_ERROR_MESSAGE_BYTES = 1024  # ErrorMessage attribute of a dead-letter message
