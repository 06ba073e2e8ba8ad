"""No interaction token in any log line, at any level, on any handler.

The real bot runs at DEBUG, set up exactly as ``python -m bot`` sets up logging, so
discord.py dumps every gateway event (INTERACTION_CREATE carries the token) and every
HTTP request (webhook URLs carry it). A bare handler added afterwards stands for one a
library adds later: it has no filter of its own. Every captured record, traceback and
stack included, is then searched for each token the emulator handed out.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from bot.logs import REDACTED, configure_logging, stop_redacting_records
from tests.e2e.harness import Harness, start_harness
from tests.emulators.discord.interactions import DEFERRED_CHANNEL_MESSAGE

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT = 15.0
TOKEN_LIFETIME = 15 * 60


class Capture(logging.Handler):
    """Every record, formatted the way a plain handler would print it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record) + (record.stack_info or ""))


@pytest.fixture(scope="module")
def logging_as_shipped() -> Iterator[tuple[Capture, list[io.StringIO]]]:
    root, chatty = logging.getLogger(), logging.getLogger("discord")
    saved = (root.level, list(root.handlers), chatty.level)
    capture = Capture()
    try:
        yield capture, []
    finally:
        stop_redacting_records()
        root.handlers[:] = saved[1]
        root.setLevel(saved[0])
        chatty.setLevel(saved[2])


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def chatty(
    tmp_path_factory: pytest.TempPathFactory,
    logging_as_shipped: tuple[Capture, list[io.StringIO]],
) -> AsyncIterator[Harness]:
    capture, streams = logging_as_shipped
    harness = await start_harness(tmp_path_factory.mktemp("chatty"), start_bot=False)
    settings = harness.settings
    before = set(logging.getLogger().handlers)
    configure_logging(
        logging.DEBUG, [settings.discord_token.reveal(), settings.siraya_api_key.reveal()]
    )
    for handler in set(logging.getLogger().handlers) - before:
        if isinstance(handler, logging.StreamHandler):
            stream = io.StringIO()
            handler.setStream(stream)  # what the owner's terminal would show
            streams.append(stream)
    logging.getLogger().addHandler(capture)
    try:
        await harness.start_bot()
        yield harness
    finally:
        await harness.close()


async def test_no_interaction_token_reaches_any_log(
    chatty: Harness, logging_as_shipped: tuple[Capture, list[io.StringIO]]
) -> None:
    capture, streams = logging_as_shipped
    member = chatty.member("chatty")

    # A result delivered through the interaction's webhook, then a button on it.
    it = await chatty.discord.run_slash_command(member, chatty.general, "imagine", prompt="a fox")
    await it.acknowledged(timeout=WAIT)
    result = await it.wait_for_original(lambda m: len(m.attachments) == 1, timeout=WAIT)
    info = await chatty.discord.press_button(member, result, label="Info")
    await info.acknowledged(timeout=WAIT)
    await info.wait_for_original(timeout=WAIT)

    # A token that expired while the image was made: Discord refuses it (logged with the
    # URL at DEBUG) and the bot posts in the channel instead.
    chatty.api.hold()
    try:
        late = await chatty.discord.run_slash_command(
            member, chatty.general, "imagine", prompt="a slow fox"
        )
        await late.acknowledged(timeout=WAIT)
        assert late.response_type == DEFERRED_CHANNEL_MESSAGE
        await late.wait_for_original(lambda m: "Generating" in m.content, timeout=WAIT)
        chatty.discord.clock.advance(TOKEN_LIFETIME + 1)
    finally:
        chatty.api.release()
    await chatty.discord.wait_for_message(
        chatty.general, lambda m: member.mention in m.content, timeout=WAIT, include_existing=False
    )

    tokens = [record.token for record in chatty.discord.interactions]
    assert len(tokens) >= 3
    secrets = [
        *tokens,
        chatty.settings.discord_token.reveal(),
        chatty.settings.siraya_api_key.reveal(),
    ]
    logs = {"a handler added later": capture.lines}
    for n, stream in enumerate(streams):
        logs[f"the configured handler {n}"] = stream.getvalue().splitlines()
    assert streams, "configure_logging installs a handler"
    for where, lines in logs.items():
        assert lines, where
        leaks = [line[:200] for line in lines if any(secret in line for secret in secrets)]
        assert leaks == [], where
        # The test looked where tokens appear: the gateway dump and the webhook URLs.
        joined = "\n".join(lines)
        assert "INTERACTION_CREATE" in joined and f"'token': '{REDACTED}'" in joined, where
        assert f"/webhooks/{chatty.discord.application_id}/{REDACTED}" in joined, where
