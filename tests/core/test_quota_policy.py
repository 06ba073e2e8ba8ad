"""The limit a member gets, and whether a request fits: pure policy, no database."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from bot.policy import (
    EffectiveLimit,
    LimitNegative,
    LimitSource,
    LimitTooHigh,
    QuotaExceeded,
    check_quota,
    day_start,
    day_window,
    reset_at,
    resolve_limit,
    utc_day,
    validate_limit,
)

NOON = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


def resolve(
    *,
    member: int | None = None,
    roles: dict[int, int] | None = None,
    has: tuple[int, ...] = (),
    server: int | None = None,
    bot: int = 10,
) -> EffectiveLimit:
    return resolve_limit(
        member_limit=member,
        role_limits=roles or {},
        member_role_ids=has,
        server_default=server,
        bot_default=bot,
    )


class TestResolutionOrder:
    def test_member_override_beats_roles_and_defaults(self) -> None:
        limit = resolve(member=2, roles={7: 50}, has=(7,), server=30, bot=10)
        assert limit == EffectiveLimit(2, LimitSource.MEMBER, None)

    def test_role_beats_server_default_even_when_lower(self) -> None:
        limit = resolve(roles={7: 3}, has=(7,), server=30)
        assert limit == EffectiveLimit(3, LimitSource.ROLE, 7)

    def test_server_default_beats_bot_default(self) -> None:
        assert resolve(server=30, bot=10) == EffectiveLimit(30, LimitSource.SERVER_DEFAULT)

    def test_bot_default_when_nothing_is_set(self) -> None:
        assert resolve(bot=10) == EffectiveLimit(10, LimitSource.BOT_DEFAULT)

    def test_highest_of_the_members_roles_wins(self) -> None:
        limit = resolve(roles={1: 5, 2: 40, 3: 20}, has=(1, 2, 3))
        assert limit == EffectiveLimit(40, LimitSource.ROLE, 2)

    def test_roles_the_member_lacks_are_ignored(self) -> None:
        limit = resolve(roles={1: 5, 2: 40}, has=(1, 99))
        assert limit == EffectiveLimit(5, LimitSource.ROLE, 1)

    def test_member_roles_without_a_limit_fall_through_to_defaults(self) -> None:
        assert resolve(roles={1: 5}, has=(2, 3), server=8).source is LimitSource.SERVER_DEFAULT

    def test_tie_between_roles_is_deterministic(self) -> None:
        assert resolve(roles={9: 5, 4: 5}, has=(9, 4)).role_id == 4

    def test_member_override_of_zero_blocks_despite_generous_role(self) -> None:
        limit = resolve(member=0, roles={7: 100}, has=(7,))
        assert limit.blocked and limit.source is LimitSource.MEMBER

    def test_role_with_zero_is_a_limit_not_a_missing_value(self) -> None:
        # A role with 0 is still "a role with a limit": it wins over the server default.
        assert resolve(roles={7: 0}, has=(7,), server=30) == EffectiveLimit(0, LimitSource.ROLE, 7)


class TestCheckQuota:
    def test_fits_returns_remaining_after_the_request(self) -> None:
        limit = EffectiveLimit(10, LimitSource.BOT_DEFAULT)
        assert check_quota(limit=limit, used=3, requested=4, reset_at=reset_at(NOON)) == 3

    def test_exactly_the_last_images_fit(self) -> None:
        limit = EffectiveLimit(5, LimitSource.ROLE, 1)
        assert check_quota(limit=limit, used=1, requested=4, reset_at=reset_at(NOON)) == 0

    def test_asking_for_more_than_remain_says_how_many_remain(self) -> None:
        limit = EffectiveLimit(5, LimitSource.MEMBER)
        with pytest.raises(QuotaExceeded) as caught:
            check_quota(limit=limit, used=3, requested=4, reset_at=reset_at(NOON))
        error = caught.value
        assert (error.scope, error.remaining, error.requested, error.used, error.limit) == (
            "member",
            2,
            4,
            3,
            5,
        )
        assert error.source is LimitSource.MEMBER
        assert error.reset_at == datetime(2025, 3, 15, tzinfo=UTC)
        assert not error.blocked

    def test_zero_limit_blocks_and_says_so(self) -> None:
        limit = EffectiveLimit(0, LimitSource.MEMBER)
        with pytest.raises(QuotaExceeded) as caught:
            check_quota(limit=limit, used=0, requested=1, reset_at=reset_at(NOON))
        assert caught.value.blocked and caught.value.remaining == 0

    def test_server_budget_blocks_with_member_quota_left(self) -> None:
        limit = EffectiveLimit(50, LimitSource.BOT_DEFAULT)
        with pytest.raises(QuotaExceeded) as caught:
            check_quota(
                limit=limit,
                used=0,
                requested=2,
                reset_at=reset_at(NOON),
                server_budget=100,
                server_used=99,
            )
        error = caught.value
        assert (error.scope, error.limit, error.remaining, error.source) == ("server", 100, 1, None)

    def test_member_limit_is_reported_before_server_budget(self) -> None:
        limit = EffectiveLimit(1, LimitSource.BOT_DEFAULT)
        with pytest.raises(QuotaExceeded) as caught:
            check_quota(
                limit=limit,
                used=1,
                requested=1,
                reset_at=reset_at(NOON),
                server_budget=5,
                server_used=5,
            )
        assert caught.value.scope == "member"

    def test_used_above_a_lowered_limit_reports_zero_remaining(self) -> None:
        limit = EffectiveLimit(2, LimitSource.MEMBER)
        with pytest.raises(QuotaExceeded) as caught:
            check_quota(limit=limit, used=7, requested=1, reset_at=reset_at(NOON))
        assert caught.value.remaining == 0

    def test_requesting_nothing_is_a_programming_error(self) -> None:
        limit = EffectiveLimit(5, LimitSource.MEMBER)
        with pytest.raises(ValueError):
            check_quota(limit=limit, used=0, requested=0, reset_at=reset_at(NOON))

    def test_exception_reads_well_and_survives_pickling(self) -> None:
        error = QuotaExceeded(
            scope="member",
            limit=5,
            used=5,
            requested=1,
            reset_at=reset_at(NOON),
            source=LimitSource.ROLE,
        )
        assert "5/5 used, 0 remaining, 1 requested" in str(error)
        clone = pickle.loads(pickle.dumps(error))
        assert (clone.scope, clone.remaining, clone.source) == ("member", 0, LimitSource.ROLE)


class TestDays:
    def test_reset_is_next_utc_midnight(self) -> None:
        assert reset_at(NOON) == datetime(2025, 3, 15, tzinfo=UTC)
        assert reset_at(NOON).tzinfo is not None

    def test_midnight_belongs_to_the_day_it_starts(self) -> None:
        midnight = datetime(2025, 3, 15, tzinfo=UTC)
        assert utc_day(midnight) == date(2025, 3, 15)
        assert reset_at(midnight) == datetime(2025, 3, 16, tzinfo=UTC)

    def test_other_time_zones_are_converted_to_the_utc_day(self) -> None:
        # 01:30 in UTC+2 on the 15th is still the 14th in UTC.
        local = datetime(2025, 3, 15, 1, 30, tzinfo=timezone(timedelta(hours=2)))
        assert utc_day(local) == date(2025, 3, 14)
        assert day_start(local) == datetime(2025, 3, 14, tzinfo=UTC)

    def test_naive_datetimes_are_refused(self) -> None:
        with pytest.raises(ValueError):
            reset_at(datetime(2025, 3, 14, 12))

    def test_window_covers_today_and_previous_days(self) -> None:
        start, end = day_window(NOON, 7)
        assert start == datetime(2025, 3, 8, tzinfo=UTC)
        assert end == datetime(2025, 3, 15, tzinfo=UTC)
        with pytest.raises(ValueError):
            day_window(NOON, 0)


class TestValidateLimit:
    @pytest.mark.parametrize("value", [None, 0, 1, 1_000_000])
    def test_accepts_sensible_values(self, value: int | None) -> None:
        assert validate_limit(value) == value

    def test_rejects_out_of_range_with_what_the_message_needs(self) -> None:
        with pytest.raises(LimitNegative):
            validate_limit(-1)
        with pytest.raises(LimitTooHigh) as caught:
            validate_limit(1_000_001)
        assert (caught.value.limit, caught.value.maximum) == (1_000_001, 1_000_000)
        assert isinstance(caught.value, ValueError)

    def test_rejects_booleans(self) -> None:
        with pytest.raises(TypeError):
            validate_limit(True)
