"""Members in every required language get the shipped catalogs' words, not English.

The other language stories use small test-only catalogs to prove who reads which voice;
this one reads the real catalogs the bot ships (bot/i18n/locales), so a language whose
catalog is missing, unreadable or not compiled from a fresh clone fails here: `/usage`
and a refusal, for a member whose Discord is in each language, in a server that is not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.i18n import REQUIRED, speech
from tests.e2e.harness import Harness
from tests.emulators.discord.interactions import CHANNEL_MESSAGE

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT = 15.0
TITLE = "Your images today"
NOT_ALLOWED = "You are not allowed to generate images on this server."


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def judged(world: Harness) -> AsyncIterator[None]:
    yield
    assert world.discord.interaction_failures == []
    world.discord.assert_no_errors()


@pytest.mark.parametrize("locale", REQUIRED)
async def test_usage_and_a_refusal_are_in_the_members_language(world: Harness, locale: str) -> None:
    voice = speech(locale)
    title, refusal = voice.gettext(TITLE), voice.gettext(NOT_ALLOWED)
    assert title != TITLE and refusal != NOT_ALLOWED, f"the {locale} catalog was not read"
    member = world.member(f"m-{locale}")

    usage = await world.discord.run_slash_command(member, world.general, "usage", locale=locale)
    reply = await usage.wait_for_original(timeout=WAIT)
    assert reply.ephemeral and reply.embeds[0]["title"] == title

    await world.running_bot.store.set_member_limit(
        world.guild.id, member.id, 0, actor_id=world.moderator.id
    )
    refused = await world.discord.run_slash_command(
        member, world.general, "imagine", locale=locale, prompt="a lighthouse at dusk"
    )
    await refused.acknowledged(timeout=WAIT)
    assert refused.response_type == CHANNEL_MESSAGE
    answer = await refused.wait_for_original(timeout=WAIT)
    assert answer.ephemeral and refusal in answer.text() + "".join(
        e.get("description", "") for e in answer.embeds
    )
    assert await world.used_today(member) == 0, "a refusal charges nothing"
