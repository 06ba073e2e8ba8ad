"""Server rules checked before /imagine defers: channels, blocked words, NSFW safety."""

from __future__ import annotations

import pytest

from bot.policy import (
    MAX_BLOCKED_WORD_LENGTH,
    BlockedWordEmpty,
    BlockedWordTooLong,
    channel_allowed,
    find_blocked_word,
    normalize_blocked_word,
    safety_checker_enabled,
)


class TestChannels:
    def test_no_allowed_channels_means_everywhere(self) -> None:
        assert channel_allowed(123, set())

    def test_only_listed_channels_once_any_is_allowed(self) -> None:
        assert channel_allowed(1, {1, 2})
        assert not channel_allowed(3, {1, 2})

    def test_thread_inherits_its_parent_channel(self) -> None:
        assert channel_allowed(500, {1}, parent_channel_id=1)
        assert not channel_allowed(500, {1}, parent_channel_id=2)


class TestBlockedWords:
    def test_single_word_matches_case_insensitively(self) -> None:
        assert find_blocked_word("A photo of a GORE scene", ["gore"]) == "gore"

    def test_single_word_respects_word_boundaries(self) -> None:
        assert find_blocked_word("a classy gorilla", ["ass", "gore"]) is None
        assert find_blocked_word("what an ass.", ["ass"]) == "ass"

    def test_phrase_matches_with_boundaries_and_any_spacing(self) -> None:
        assert find_blocked_word("Red   WINE, please", ["red wine"]) == "red wine"
        assert find_blocked_word("red winery tour", ["red wine"]) is None
        assert find_blocked_word("a wine that is red", ["red wine"]) is None

    def test_returns_the_rule_that_matched_not_the_list(self) -> None:
        rules = ["alpha", "beta", "gamma"]
        assert find_blocked_word("a beta test", rules) == "beta"

    def test_punctuation_edged_rules_still_use_boundaries(self) -> None:
        assert find_blocked_word("say f*ck now", ["f*ck"]) == "f*ck"
        assert find_blocked_word("f*cking", ["f*ck"]) is None

    def test_regex_characters_are_literal(self) -> None:
        assert find_blocked_word("a.b", ["a*b"]) is None
        assert find_blocked_word("price (usd)", ["(usd)"]) == "(usd)"

    def test_fullwidth_and_unicode_case_are_folded(self) -> None:
        assert find_blocked_word("ＧＯＲＥ", ["gore"]) == "gore"
        assert find_blocked_word("STRASSE", ["straße"]) == "straße"

    def test_nothing_blocked_when_list_empty(self) -> None:
        assert find_blocked_word("anything", []) is None

    def test_normalisation_makes_one_canonical_rule(self) -> None:
        assert normalize_blocked_word("  Red \t WINE ") == "red wine"

    @pytest.mark.parametrize("word", ["", "   ", "\u200b"])
    def test_normalisation_rejects_empty(self, word: str) -> None:
        with pytest.raises(BlockedWordEmpty):
            normalize_blocked_word(word)

    def test_normalisation_rejects_huge_saying_the_limit(self) -> None:
        with pytest.raises(BlockedWordTooLong) as caught:
            normalize_blocked_word("x" * (MAX_BLOCKED_WORD_LENGTH + 1))
        assert caught.value.limit == MAX_BLOCKED_WORD_LENGTH
        assert isinstance(caught.value, ValueError)  # callers that knew only ValueError


class TestSafetyChecker:
    @pytest.mark.parametrize("guild_setting", [None, True, False])
    @pytest.mark.parametrize("default", [True, False])
    def test_always_on_outside_nsfw_channels(
        self, guild_setting: bool | None, default: bool
    ) -> None:
        assert safety_checker_enabled(
            channel_is_nsfw=False, guild_nsfw_safety=guild_setting, default_nsfw_safety=default
        )

    @pytest.mark.parametrize("default", [True, False])
    def test_nsfw_channel_follows_environment_default_when_guild_never_chose(
        self, default: bool
    ) -> None:
        assert (
            safety_checker_enabled(
                channel_is_nsfw=True, guild_nsfw_safety=None, default_nsfw_safety=default
            )
            is default
        )

    @pytest.mark.parametrize("guild_setting", [True, False])
    def test_nsfw_channel_follows_guild_setting(self, guild_setting: bool) -> None:
        assert (
            safety_checker_enabled(
                channel_is_nsfw=True,
                guild_nsfw_safety=guild_setting,
                default_nsfw_safety=not guild_setting,
            )
            is guild_setting
        )
