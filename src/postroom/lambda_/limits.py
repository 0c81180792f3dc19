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

# Function configuration and the control plane.
TIMEOUT_MIN, TIMEOUT_MAX, TIMEOUT_DEFAULT = 1, 900, 3
MEMORY_MIN, MEMORY_MAX, MEMORY_DEFAULT = 128, 10240, 128
EPHEMERAL_MIN, EPHEMERAL_MAX, EPHEMERAL_DEFAULT = 512, 10240, 512
DESCRIPTION_MAX = 256
HANDLER_MAX = 128
ENVIRONMENT_MAX_BYTES = 4096
LAYERS_PER_FUNCTION = 5
TAGS_PER_FUNCTION = 50

ZIP_MAX_BYTES = 50 * 1024 * 1024  # direct upload (ZipFile)
UNZIPPED_MAX_BYTES = 262_144_000  # 250 MB, function plus layers
TOTAL_CODE_SIZE = 80_530_636_800  # 75 GB per region

ACCOUNT_CONCURRENCY = 1000
UNRESERVED_MINIMUM = 100

RETRY_ATTEMPTS_MAX = 2
EVENT_AGE_MIN, EVENT_AGE_MAX = 60, 21600

POLICY_MAX_BYTES = 20480
LIST_DEFAULT, LIST_MAX = 50, 10000

# Environment variable names the Lambda runtime owns (AWS refuses them).
RESERVED_ENVIRONMENT = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})

# Runtimes AWS no longer accepts for new or updated functions, and what it recommends.
DEPRECATED_RUNTIMES = {
    "nodejs": "nodejs22.x", "nodejs4.3": "nodejs22.x", "nodejs6.10": "nodejs22.x",
    "nodejs8.10": "nodejs22.x", "nodejs10.x": "nodejs22.x", "nodejs12.x": "nodejs22.x",
    "nodejs14.x": "nodejs22.x", "nodejs16.x": "nodejs22.x", "nodejs4.3-edge": "nodejs22.x",
    "python2.7": "python3.13", "python3.6": "python3.13", "python3.7": "python3.13",
    "python3.8": "python3.13", "dotnetcore1.0": "dotnet8", "dotnetcore2.0": "dotnet8",
    "dotnetcore2.1": "dotnet8", "dotnetcore3.1": "dotnet8", "dotnet6": "dotnet8",
    "ruby2.5": "ruby3.3", "ruby2.7": "ruby3.3", "go1.x": "provided.al2023", "java8": "java21",
}
