"""Messages and attachments as the emulator stores them, and what tests read.

A :class:`Message` keeps everything a user could see (content, embeds, components,
attachment bytes) plus an edit history, so a test can assert both the final state
and how the bot got there ("the thinking message was edited once, to an image").
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.emulators.discord.markdown import rendered
from tests.emulators.discord.signals import ChangeSignal
from tests.emulators.discord.snowflake import iso_timestamp
from tests.emulators.discord.state import Channel, User

JSON = dict[str, Any]

EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_EMBEDS = 1 << 2
SUPPRESS_NOTIFICATIONS = 1 << 12
IS_COMPONENTS_V2 = 1 << 15

MESSAGE_DEFAULT = 0
MESSAGE_REPLY = 19
MESSAGE_CHAT_INPUT_COMMAND = 20


@dataclass(eq=False)
class Attachment:
    """An uploaded file. ``data`` holds the exact bytes the bot sent."""

    id: int
    filename: str
    data: bytes
    content_type: str | None
    url: str
    width: int | None = None
    height: int | None = None
    description: str | None = None
    ephemeral: bool = False

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def proxy_url(self) -> str:
        return self.url

    def payload(self) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.proxy_url,
        }
        if self.content_type:
            data["content_type"] = self.content_type
        if self.width is not None and self.height is not None:
            data["width"] = self.width
            data["height"] = self.height
        if self.description is not None:
            data["description"] = self.description
        if self.ephemeral:
            data["ephemeral"] = True
        return data

    def __repr__(self) -> str:
        dims = f" {self.width}x{self.height}" if self.width else ""
        return f"<Attachment {self.filename} {self.size}B{dims}>"


@dataclass(frozen=True)
class MessageVersion:
    """One visible state of a message, kept in :attr:`Message.history` before each edit."""

    content: str
    embeds: list[JSON]
    components: list[JSON]
    attachment_names: list[str]
    flags: int


@dataclass(eq=False)
class Message:
    """A message in a channel, from the bot or a member."""

    id: int
    channel: Channel
    author: User
    created_at: float
    content: str = ""
    embeds: list[JSON] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    flags: int = 0
    type: int = MESSAGE_DEFAULT
    tts: bool = False
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: JSON | None = None
    message_reference: JSON | None = None
    mentions: list[User] = field(default_factory=list)
    mention_role_ids: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    #: For ephemeral messages, the only user who can see it.
    visible_to: int | None = None
    edited_at: float | None = None
    deleted: bool = False
    history: list[MessageVersion] = field(default_factory=list)

    # -- what tests read ------------------------------------------------------
    @property
    def channel_id(self) -> int:
        return self.channel.id

    @property
    def guild_id(self) -> int:
        return self.channel.guild.id

    @property
    def jump_url(self) -> str:
        """The link Discord's clients open this message by: a DM or group DM (channel
        types 1 and 3) has no server, so its links go through ``@me``."""
        where = "@me" if self.channel.type in (1, 3) else str(self.guild_id)
        return f"https://discord.com/channels/{where}/{self.channel.id}/{self.id}"

    @property
    def author_id(self) -> int:
        return self.author.id

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """True while this is a deferred "Bot is thinking..." placeholder."""
        return bool(self.flags & LOADING)

    @property
    def edits(self) -> int:
        return len(self.history)

    @property
    def referenced_message_id(self) -> int | None:
        if self.message_reference is None or "message_id" not in self.message_reference:
            return None
        return int(self.message_reference["message_id"])

    @property
    def mention_ids(self) -> list[int]:
        return [u.id for u in self.mentions]

    def all_components(self) -> list[JSON]:
        """Every component, flattened out of action rows and containers."""
        found: list[JSON] = []

        def walk(items: list[JSON]) -> None:
            for item in items:
                found.append(item)
                walk(item.get("components", []))
                for key in ("accessory", "component"):
                    if isinstance(item.get(key), dict):
                        walk([item[key]])

        walk(self.components)
        return found

    @property
    def buttons(self) -> list[JSON]:
        return [c for c in self.all_components() if c.get("type") == 2]

    def button(self, custom_id: str | None = None, *, label: str | None = None) -> JSON | None:
        for b in self.buttons:
            if custom_id is not None and b.get("custom_id") == custom_id:
                return b
            if label is not None and b.get("label") == label:
                return b
        return None

    def attachment(self, filename: str) -> Attachment:
        for a in self.attachments:
            if a.filename == filename:
                return a
        raise KeyError(f"message {self.id} has no attachment {filename!r}: {self.attachments}")

    def text(self) -> str:
        """Content plus embed titles/descriptions/fields: roughly what a reader sees
        (markdown escapes resolved, see :mod:`.markdown`)."""
        parts = [self.content]
        for e in self.embeds:
            parts += [e.get("title") or "", e.get("description") or ""]
            for f in e.get("fields", []):
                parts += [f.get("name", ""), f.get("value", "")]
            parts.append((e.get("footer") or {}).get("text", ""))
        return "\n".join(rendered(p) for p in parts if p)

    # -- mutation (emulator side) -------------------------------------------
    def remember_version(self) -> None:
        self.history.append(
            MessageVersion(
                content=self.content,
                embeds=copy.deepcopy(self.embeds),
                components=copy.deepcopy(self.components),
                attachment_names=[a.filename for a in self.attachments],
                flags=self.flags,
            )
        )

    def payload(self, *, hide_content: bool = False) -> JSON:
        """The message as REST returns it; ``hide_content`` as for a bot without MESSAGE_CONTENT."""
        data: JSON = {
            "id": str(self.id),
            "channel_id": str(self.channel.id),
            "type": self.type,
            "author": self.author.payload(),
            "content": "" if hide_content else self.content,
            "timestamp": iso_timestamp(self.created_at),
            "edited_timestamp": iso_timestamp(self.edited_at) if self.edited_at else None,
            "tts": self.tts,
            "mention_everyone": self.mention_everyone,
            "mentions": [u.payload() for u in self.mentions],
            "mention_roles": [str(r) for r in self.mention_role_ids],
            "attachments": [] if hide_content else [a.payload() for a in self.attachments],
            "embeds": [] if hide_content else copy.deepcopy(self.embeds),
            "components": [] if hide_content else copy.deepcopy(self.components),
            "pinned": False,
            "flags": self.flags,
        }
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            data["application_id"] = str(self.application_id)
        if self.interaction_metadata is not None:
            data["interaction_metadata"] = copy.deepcopy(self.interaction_metadata)
        if self.message_reference is not None:
            data["message_reference"] = dict(self.message_reference)
        return data

    def __repr__(self) -> str:
        bits = [f"id={self.id}", f"#{self.channel.name}", f"by {self.author.username}"]
        if self.content:
            bits.append(repr(self.content[:60]))
        if self.attachments:
            bits.append(f"files={[a.filename for a in self.attachments]}")
        if self.embeds:
            bits.append(f"embeds={len(self.embeds)}")
        if self.loading:
            bits.append("loading")
        if self.ephemeral:
            bits.append("ephemeral")
        if self.deleted:
            bits.append("deleted")
        return f"<Message {' '.join(bits)}>"


_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


def mentioned_ids(content: str) -> tuple[list[int], list[int], bool]:
    """User ids, role ids and whether @everyone/@here appear in message content."""
    users = [int(m) for m in _USER_MENTION.findall(content)]
    roles = [int(m) for m in _ROLE_MENTION.findall(content)]
    return users, roles, ("@everyone" in content or "@here" in content)


class MessageStore:
    """All messages by channel, plus a signal fired on every create/edit/delete."""

    def __init__(self) -> None:
        self._by_channel: dict[int, list[Message]] = {}
        self._by_id: dict[int, Message] = {}
        self.signal = ChangeSignal()

    def add(self, message: Message) -> None:
        self._by_channel.setdefault(message.channel.id, []).append(message)
        self._by_id[message.id] = message
        self.signal.notify()

    def changed(self) -> None:
        self.signal.notify()

    def all_messages(self) -> list[Message]:
        return list(self._by_id.values())

    def get(self, message_id: int) -> Message | None:
        return self._by_id.get(message_id)

    def in_channel(self, channel_id: int, *, include_deleted: bool = False) -> list[Message]:
        return [m for m in self._by_channel.get(channel_id, []) if include_deleted or not m.deleted]

    async def wait_for(
        self,
        channel: Channel,
        predicate: Callable[[Message], bool] | None,
        *,
        timeout: float,
        include_existing: bool,
    ) -> Message:
        known = {m.id: m.edits for m in self._by_channel.get(channel.id, [])}

        def check() -> Message | None:
            for message in reversed(self.in_channel(channel.id)):
                unseen = message.id not in known or message.edits != known[message.id]
                if (include_existing or unseen) and (predicate is None or predicate(message)):
                    return message
            return None

        def describe() -> str:
            msgs = self.in_channel(channel.id)
            return f"no matching message in #{channel.name}; it has {len(msgs)}: {msgs[-5:]}"

        return await self.signal.wait_for(check, timeout=timeout, describe=describe)
