"""Direct messages: ``POST /users/@me/channels`` opens a DM channel, then the bot posts in it.

Discord's rules, kept strictly: the DM channel with a user is one channel (opening it
again returns the same one); the bot may message a user only when they share a server
and the user accepts direct messages from its members, otherwise the post is refused
with 403 50007 "Cannot send messages to this user". Only text and embeds are modelled:
a file in a DM is an emulator gap and fails the test loudly rather than pretending.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from tests.emulators.discord.clock import EmulatorClock
from tests.emulators.discord.errors import ApiError, FormErrors, invalid_form_body, unknown_user
from tests.emulators.discord.signals import ChangeSignal
from tests.emulators.discord.snowflake import SnowflakeFactory, iso_timestamp
from tests.emulators.discord.state import User, World
from tests.emulators.discord.uploads import RequestBody
from tests.emulators.discord.validation import validate_message

JSON = dict[str, Any]
DM_CHANNEL = 1


def cannot_message_user() -> ApiError:
    return ApiError(403, 50007, "Cannot send messages to this user")


@dataclass(eq=False)
class DirectMessage:
    """A message the bot sent a user in private."""

    id: int
    channel_id: int
    author: User
    recipient: User
    created_at: float
    content: str = ""
    embeds: list[JSON] = field(default_factory=list)

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "type": 0,
            "author": self.author.payload(),
            "content": self.content,
            "timestamp": iso_timestamp(self.created_at),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": copy.deepcopy(self.embeds),
            "components": [],
            "pinned": False,
            "flags": 0,
        }


@dataclass(eq=False)
class DirectChannel:
    id: int
    recipient: User
    messages: list[DirectMessage] = field(default_factory=list)

    def payload(self) -> JSON:
        last = self.messages[-1].id if self.messages else None
        return {
            "id": str(self.id),
            "type": DM_CHANNEL,
            "last_message_id": str(last) if last else None,
            "flags": 0,
            "recipients": [self.recipient.payload()],
        }


class DirectMessages:
    """Every DM channel the bot opened and what it said there."""

    def __init__(self, world: World, clock: EmulatorClock, snowflakes: SnowflakeFactory) -> None:
        self.world = world
        self.clock = clock
        self.snowflakes = snowflakes
        self._by_user: dict[int, DirectChannel] = {}
        self._by_id: dict[int, DirectChannel] = {}
        #: User ids who refuse direct messages from server members (a privacy setting).
        self.closed: set[int] = set()
        self.changed = ChangeSignal()

    def open(self, payload: Any) -> DirectChannel:
        errors = FormErrors()
        raw = payload.get("recipient_id") if isinstance(payload, dict) else None
        if raw is None:
            errors.add(("recipient_id",), "BASE_TYPE_REQUIRED", "This field is required")
        elif not str(raw).isdigit():
            errors.add(("recipient_id",), "NUMBER_TYPE_COERCE", f'Value "{raw}" is not snowflake.')
        if errors:
            raise invalid_form_body(errors)
        user = self.world.users.get(int(str(raw)))
        if user is None or user is self.world.bot_user:
            raise unknown_user()
        channel = self._by_user.get(user.id)
        if channel is None:
            channel = DirectChannel(id=self.snowflakes.next(), recipient=user)
            self._by_user[user.id] = channel
            self._by_id[channel.id] = channel
        return channel

    def get(self, channel_id: int) -> DirectChannel | None:
        return self._by_id.get(channel_id)

    def send(self, channel: DirectChannel, body: RequestBody) -> DirectMessage:
        if body.files:
            raise NotImplementedError("files in direct messages are not modelled")
        errors = FormErrors()
        validate_message(body.payload, errors, prefix=(), file_count=0)
        errors.raise_if_any()
        recipient = channel.recipient
        shares_a_server = any(guild.get_member(recipient.id) for guild in self.world.guilds)
        installed = recipient.id in self.world.user_installs
        if not (shares_a_server or installed) or recipient.id in self.closed:
            raise cannot_message_user()
        content = body.payload.get("content") or ""
        embeds = body.payload.get("embeds") or []
        if not content and not embeds:
            raise ApiError(400, 50006, "Cannot send an empty message")
        message = DirectMessage(
            id=self.snowflakes.next(),
            channel_id=channel.id,
            author=self.world.bot_user,
            recipient=recipient,
            created_at=self.clock.wall(),
            content=content,
            embeds=copy.deepcopy(embeds),
        )
        channel.messages.append(message)
        self.changed.notify()
        return message

    def to(self, user_id: int) -> list[DirectMessage]:
        """What the bot wrote to this user in private, oldest first."""
        channel = self._by_user.get(user_id)
        return list(channel.messages) if channel else []
