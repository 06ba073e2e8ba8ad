"""Buttons and dialogs trust nothing a custom id says.

A custom id comes back from the member's client, so a modified client can name any
generation: one of another server, someone else's result for Delete, or an id no
database can hold. The emulator plays such a client (``press_forged_button``,
``submit_forged_modal``); members must get a clear private refusal, never another
server's prompt, a deleted message that was not theirs, a traceback or "This
interaction failed".
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from bot.store.base import GenerationParams, MemberContext
from tests.e2e.harness import Harness
from tests.e2e.test_result_buttons import (
    LABELS,
    WAIT,
    charged_today,
    generation_id,
    imagine,
    press,
    private_answer,
)
from tests.emulators.discord import InteractionRecord, Member, Message

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOT_HERE = "does not belong to a result here"
OTHER_SERVER = 424242424242424242
SECRET_PROMPT = "a secret of another server"


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def judged(world: Harness) -> AsyncIterator[None]:
    """Whatever a hostile client sent, nobody saw "This interaction failed"."""
    yield
    assert world.discord.interaction_failures == []
    world.discord.assert_no_errors()


@pytest.fixture
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A refused press is expected, not an error: nothing at ERROR or above in the log."""
    with caplog.at_level(logging.WARNING):
        yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


async def foreign_generation(world: Harness) -> int:
    """A finished generation of another server, sharing this bot's database."""
    store = world.running_bot.store
    stranger = MemberContext(guild_id=OTHER_SERVER, channel_id=7, user_id=8)
    params = GenerationParams(
        prompt=SECRET_PROMPT,
        width=512,
        height=512,
        size_preset="square",
        steps=4,
        guidance=3.5,
        acceleration="regular",
        seed=1,
        safety_checker=True,
        count=1,
    )
    held = await store.reserve(stranger, params, bot_default_limit=20)
    await store.complete(held.generation_id, delivered=1, latency_ms=1, message_id=99)
    return held.generation_id


async def forged(
    world: Harness, member: Member, message: Message, custom_id: str, *, shown: bool = True
) -> InteractionRecord:
    it = await world.discord.press_forged_button(member, message, custom_id, shown_on_message=shown)
    return await it.acknowledged(timeout=WAIT)


def everything_shown(world: Harness) -> str:
    """All text of every message in #general, ephemeral ones and embeds included."""
    parts: list[str] = []
    for message in world.discord.messages(world.general, include_deleted=True):
        parts.append(message.text())
        parts.extend(str(embed) for embed in message.embeds)
    return "\n".join(parts)


# -- another server's generation ------------------------------------------------------------


@pytest.mark.parametrize("action", ["reroll", "vary", "edit", "info", "delete"])
async def test_a_button_naming_another_servers_generation_is_refused(
    world: Harness, action: str
) -> None:
    nosy = world.member("nosy")
    own = await imagine(world, nosy, "my own lighthouse")
    foreign = await foreign_generation(world)
    requests = len(world.api.requests)

    reply = await private_answer(await forged(world, nosy, own, f"gen:{action}:{foreign}"))

    assert NOT_HERE in reply.text()
    assert SECRET_PROMPT not in everything_shown(world)
    assert len(world.api.requests) == requests, "nothing generated from another server's prompt"
    assert await charged_today(world, nosy) == 1
    assert not own.deleted


async def test_an_edit_dialog_naming_another_servers_generation_is_refused(
    world: Harness,
) -> None:
    nosy = world.member("nosy")
    own = await imagine(world, nosy, "my own windmill")
    form = await (await press(world, nosy, own, "Edit")).wait_for_modal(timeout=WAIT)
    foreign = await foreign_generation(world)
    requests = len(world.api.requests)

    done = await world.discord.submit_forged_modal(
        nosy, form, {"Steps (1–50)": "10"}, f"gen:edit-form:{foreign}"
    )
    reply = await private_answer(await done.acknowledged(timeout=WAIT))

    assert NOT_HERE in reply.text()
    assert len(world.api.requests) == requests
    assert await charged_today(world, nosy) == 1


# -- Delete acts only on the message pressed ------------------------------------------------


async def test_a_forged_delete_cannot_remove_someone_elses_result(world: Harness) -> None:
    vandal, victim = world.member("vandal"), world.member("victim")
    mine = await imagine(world, vandal, "a throwaway doodle")
    theirs = await imagine(world, victim, "a painting I care about")

    reply = await private_answer(
        await forged(world, vandal, theirs, f"gen:delete:{generation_id(mine)}")
    )

    assert NOT_HERE in reply.text()
    assert not theirs.deleted and not mine.deleted
    owner_delete = await press(world, victim, theirs, "Delete")
    await owner_delete.wait_for_followup(timeout=WAIT)
    assert theirs.deleted, "the real button still works for its owner"


# -- ids no database can hold, and garbled ones -------------------------------------------------


@pytest.mark.parametrize(
    ("custom_id", "shown"),
    [
        ("gen:info:9223372036854775808", True),  # 2^63: one past SQLite's and PostgreSQL's range
        ("gen:reroll:9999999999999999999", True),
        ("gen:delete:-1", True),
        ("gen:info:0", True),
        ("gen:vary:" + "9" * 90, True),
        ("gen:vary:" + "9" * 4000, True),  # far past Discord's 100, as a forged client may send
        ("gen:explode:1", True),
        ("gen:info:1", False),  # not a button of the message pressed
        ("job:cancel:9223372036854775808", True),
        ("job:cancel:-3", True),
        ("job:cancel:12", False),
    ],
)
@pytest.mark.usefixtures("no_tracebacks")
async def test_a_custom_id_out_of_range_or_garbled_is_refused_cleanly(
    world: Harness, custom_id: str, shown: bool
) -> None:
    member = world.member("prober")
    own = await imagine(world, member, "a plain teapot")
    requests = len(world.api.requests)

    reply = await private_answer(await forged(world, member, own, custom_id, shown=shown))

    assert NOT_HERE in reply.text()
    assert len(world.api.requests) == requests
    assert await charged_today(world, member) == 1
    assert not own.deleted
    assert [b["label"] for b in own.buttons] == list(LABELS), "the message is untouched"


@pytest.mark.parametrize(
    "custom_id",
    [
        "gen:edit-form:9223372036854775808",
        "gen:edit-form:-5",
        "gen:edit-form:" + "1" * 500,
        "gen:edit-form:",
        "gen:edit-formula:1",
    ],
)
@pytest.mark.usefixtures("no_tracebacks")
async def test_a_dialog_with_a_garbled_id_is_refused_cleanly(
    world: Harness, custom_id: str
) -> None:
    member = world.member("prober")
    own = await imagine(world, member, "a plain teacup")
    form = await (await press(world, member, own, "Edit")).wait_for_modal(timeout=WAIT)
    requests = len(world.api.requests)

    done = await world.discord.submit_forged_modal(member, form, {}, custom_id)
    reply = await private_answer(await done.acknowledged(timeout=WAIT))

    assert NOT_HERE in reply.text()
    assert len(world.api.requests) == requests
