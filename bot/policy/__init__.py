"""Pure quota and server-rule decisions: no Discord, no I/O, so they are tested directly."""

from bot.policy.quota import (
    MAX_DAILY_LIMIT,
    EffectiveLimit,
    LimitSource,
    QuotaExceeded,
    QuotaScope,
    as_utc,
    check_quota,
    day_start,
    day_window,
    reset_at,
    resolve_limit,
    utc_day,
    validate_limit,
)
from bot.policy.rules import (
    MAX_BLOCKED_WORD_LENGTH,
    channel_allowed,
    find_blocked_word,
    normalize_blocked_word,
    normalize_text,
    safety_checker_enabled,
)

__all__ = [
    "MAX_BLOCKED_WORD_LENGTH",
    "MAX_DAILY_LIMIT",
    "EffectiveLimit",
    "LimitSource",
    "QuotaExceeded",
    "QuotaScope",
    "as_utc",
    "channel_allowed",
    "check_quota",
    "day_start",
    "day_window",
    "find_blocked_word",
    "normalize_blocked_word",
    "normalize_text",
    "reset_at",
    "resolve_limit",
    "safety_checker_enabled",
    "utc_day",
    "validate_limit",
]
