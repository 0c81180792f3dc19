"""SNS would-be delivery records (email, SMS, ... payloads kept for inspection)."""

# A direct publish (to a phone number) has no subscription; its record stores this prefix
# and the publisher's account in place of the subscription ARN, so it can be scoped.
DIRECT_RECORD_PREFIX = "account:"
