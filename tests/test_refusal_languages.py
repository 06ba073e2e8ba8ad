"""Every refusal of the core is said in the member's language, each by its own text.

The core's refusals (bot/jobs/service.py, the request's validation in bot/siraya) keep an
English ``str()`` for the logs; what the member reads is built from the exception's type
and fields in ``cogs.common.messages.refusal``, with the language's numbers. A test-only
German catalog (tests/fake_catalogs) shows which text each refusal is.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.i18n import speech
from bot.jobs.service import (
    Busy,
    ChannelNotAllowed,
    PromptBlocked,
    QueueFull,
    Refusal,
    ShuttingDown,
    TooManyJobs,
)
from bot.siraya import GenerationRequest, InvalidRequest
from cogs.common import messages
from tests.fake_catalogs import Msgid, Msgstr, installed

DE: dict[Msgid, Msgstr] = {
    (
        "You already have {count} request waiting or generating. "
        "Wait for one to finish, then try again.",
        "You already have {count} requests waiting or generating. "
        "Wait for one to finish, then try again.",
    ): (
        "Du hast schon {count} Anfrage in Arbeit. Warte, bis sie fertig ist.",
        "Du hast schon {count} Anfragen in Arbeit. Warte, bis eine fertig ist.",
    ),
    (
        "The bot is very busy: {count} request is already waiting. "
        "Please try again in a few minutes.",
        "The bot is very busy: {count} requests are already waiting. "
        "Please try again in a few minutes.",
    ): (
        "Der Bot ist sehr beschäftigt: {count} Anfrage wartet schon.",
        "Der Bot ist sehr beschäftigt: {count} Anfragen warten schon.",
    ),
    "⏳ The bot is busy right now. Please try again in a moment.": "⏳ Der Bot ist gerade belegt.",
    "The bot is restarting. Please try again in a minute.": "Der Bot startet neu.",
    "Your prompt contains “{matched}”, which this server does not allow.": (
        "Dein Prompt enthält „{matched}“, was dieser Server nicht erlaubt."
    ),
    "Image generation is not enabled in this channel.": (
        "In diesem Kanal ist die Bilderzeugung nicht aktiviert."
    ),
    "Image generation is not enabled in this channel. Try {channels}.": (
        "In diesem Kanal ist die Bilderzeugung nicht aktiviert. Versuch es in {channels}."
    ),
    "Steps must be a whole number from {low} to {high} (you asked for {typed}).": (
        "Schritte: eine ganze Zahl von {low} bis {high} (du hast {typed} angegeben)."
    ),
    "The prompt is {length} characters long; please keep it to {limit} characters or fewer.": (
        "Der Prompt hat {length} Zeichen; höchstens {limit} gehen."
    ),
    "The seed must be a whole number from 0 to {max_seed} (you asked for {typed}).": (
        "Der Seed ist eine ganze Zahl von 0 bis {max_seed} (du hast {typed} angegeben)."
    ),
    (
        "Width must be between {min_side} and {max_side} pixels and a multiple of {multiple} "
        "(you asked for {typed})."
    ): "Die Breite: {min_side} bis {max_side} Pixel, ein Vielfaches von {multiple} ({typed}).",
}


@pytest.fixture(autouse=True)
def german_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with installed(monkeypatch, tmp_path, {"de": DE}):
        yield


def invalid(**options: object) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as refused:
        GenerationRequest(**options).validate()  # type: ignore[arg-type]
    return refused.value


@pytest.mark.parametrize(
    ("refusal", "german", "english"),
    [
        (
            TooManyJobs(2),
            "Du hast schon 2 Anfragen in Arbeit. Warte, bis eine fertig ist.",
            "You already have 2 requests waiting or generating.",
        ),
        (
            TooManyJobs(1),
            "Du hast schon 1 Anfrage in Arbeit. Warte, bis sie fertig ist.",
            "You already have 1 request waiting",
        ),
        (
            QueueFull(1500),
            "Der Bot ist sehr beschäftigt: 1.500 Anfragen warten schon.",
            "The bot is very busy: 1500 requests are already waiting.",
        ),
        (Busy(), "⏳ Der Bot ist gerade belegt.", "The bot is busy right now."),
        (ShuttingDown(), "Der Bot startet neu.", "The bot is restarting."),
        (
            PromptBlocked("*cat*"),
            "Dein Prompt enthält „\\*cat\\*“, was dieser Server nicht erlaubt.",
            "Your prompt contains “*cat*”",
        ),
        (
            ChannelNotAllowed(()),
            "In diesem Kanal ist die Bilderzeugung nicht aktiviert.",
            "Image generation is not enabled in this channel.",
        ),
        (
            ChannelNotAllowed((11, 22, 33)),
            "In diesem Kanal ist die Bilderzeugung nicht aktiviert. "
            "Versuch es in <#11>, <#22> oder <#33>.",
            "Image generation is not enabled in this channel.",
        ),
    ],
)
def test_each_refusal_of_the_core_is_its_own_text_in_the_members_language(
    refusal: Refusal, german: str, english: str
) -> None:
    assert messages.refusal(speech("de"), refusal) == german
    assert english in str(refusal), "the logs keep reading English"


def test_a_refusal_without_a_translation_is_english_never_a_crash() -> None:
    assert messages.refusal(speech("ja"), TooManyJobs(3)) == (
        "You already have 3 requests waiting or generating. Wait for one to finish, then try again."
    )


@pytest.mark.parametrize(
    ("options", "german"),
    [
        (
            {"prompt": "a cat", "steps": 99},
            "Schritte: eine ganze Zahl von 1 bis 50 (du hast 99 angegeben).",
        ),
        ({"prompt": "x" * 1001}, "Der Prompt hat 1.001 Zeichen; höchstens 1.000 gehen."),
        (
            {"prompt": "a cat", "seed": -1},
            "Der Seed ist eine ganze Zahl von 0 bis 4294967295 (du hast -1 angegeben).",
        ),
        (
            {"prompt": "a cat", "width": 1000, "height": 512},
            "Die Breite: 256 bis 2048 Pixel, ein Vielfaches von 16 (1000).",
        ),
    ],
)
def test_a_setting_the_bot_will_not_send_is_explained_in_the_members_language(
    options: dict[str, object], german: str
) -> None:
    refused = invalid(**options)
    assert messages.refusal(speech("de"), refused) == german, "counts in German, sizes as typed"
    assert str(refused) == refused.template.format(**refused.fields), "English for the logs"
