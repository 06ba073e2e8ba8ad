"""Interactions as the test sees them: what was sent, how and when the bot answered.

An :class:`InteractionRecord` is returned by ``run_slash_command``, ``press_button``
and ``submit_modal``. It records every callback attempt (accepted or rejected, with
the latency on the emulator clock) and the messages the interaction produced, and
offers ``await``-able checkpoints such as :meth:`InteractionRecord.acknowledged` and
:meth:`InteractionRecord.wait_for_original`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.emulators.discord.messages import Message
from tests.emulators.discord.signals import ChangeSignal
from tests.emulators.discord.state import Channel, Member

JSON = dict[str, Any]

PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5

PONG = 1
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9

RESPONSE_TYPE_NAMES = {
    1: "PONG",
    4: "CHANNEL_MESSAGE_WITH_SOURCE",
    5: "DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE",
    6: "DEFERRED_UPDATE_MESSAGE",
    7: "UPDATE_MESSAGE",
    8: "APPLICATION_COMMAND_AUTOCOMPLETE_RESULT",
    9: "MODAL",
}

#: Which initial responses Discord accepts for each interaction type.
ALLOWED_RESPONSES = {
    PING: {PONG},
    APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL},
    MESSAGE_COMPONENT: {
        CHANNEL_MESSAGE,
        DEFERRED_CHANNEL_MESSAGE,
        DEFERRED_UPDATE_MESSAGE,
        UPDATE_MESSAGE,
        MODAL,
    },
    AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
    MODAL_SUBMIT: {
        CHANNEL_MESSAGE,
        DEFERRED_CHANNEL_MESSAGE,
        DEFERRED_UPDATE_MESSAGE,
        UPDATE_MESSAGE,
    },
}


def new_interaction_token() -> str:
    return "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(96)


@dataclass(frozen=True)
class CallbackAttempt:
    """One ``POST /interactions/{id}/{token}/callback`` the bot made."""

    response_type: int | None
    #: Seconds after the interaction was sent, on the emulator clock.
    at: float
    status: int
    code: int | None = None
    message: str | None = None

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


@dataclass(eq=False)
class ModalRecord:
    """A modal the bot opened (callback type 9), waiting for the user to submit it."""

    custom_id: str
    title: str
    components: list[JSON]
    opened_by: InteractionRecord

    def inputs(self) -> list[JSON]:
        """The text inputs and selects the user can fill, in order."""
        found: list[JSON] = []
        for c in self.components:
            if c.get("type") == 1:
                found.extend(x for x in c.get("components", []) if x.get("type") == 4)
            elif c.get("type") == 18 and isinstance(c.get("component"), dict):
                inner = dict(c["component"])
                inner.setdefault("label", c.get("label"))
                found.append(inner)
        return found

    def __repr__(self) -> str:
        return f"<Modal {self.title!r} inputs={[i.get('label') for i in self.inputs()]}>"


@dataclass(eq=False)
class InteractionRecord:
    """One interaction the emulator sent to the bot, and everything the bot did with it."""

    id: int
    token: str
    type: int
    name: str
    member: Member
    channel: Channel
    payload: JSON
    created_at: float
    attachment_size_limit: int
    signal: ChangeSignal
    clock_now: Callable[[], float]
    #: For component interactions, and modals opened from them: the message clicked.
    source_message: Message | None = None
    callback_attempts: list[CallbackAttempt] = field(default_factory=list)
    response_type: int | None = None
    ack_latency: float | None = None
    original: Message | None = None
    original_deleted: bool = False
    followups: list[Message] = field(default_factory=list)
    modal: ModalRecord | None = None
    #: The suggestions an autocomplete interaction was answered with (callback type 8).
    choices: list[JSON] | None = None
    deadline: float = 3.0

    # -- state a test asserts on ----------------------------------------------
    @property
    def ephemeral(self) -> bool:
        """Whether the user alone sees the response (from the initial response's flags)."""
        return self.original is not None and self.original.ephemeral

    @property
    def failed(self) -> bool:
        """What the user sees as "This interaction failed": no accepted response within 3 s."""
        if self.response_type is not None:
            return False
        return self.clock_now() - self.created_at > self.deadline or any(
            a.code == 10062 for a in self.callback_attempts
        )

    @property
    def response_type_name(self) -> str | None:
        return None if self.response_type is None else RESPONSE_TYPE_NAMES.get(self.response_type)

    @property
    def messages(self) -> list[Message]:
        """Original response (if a message) and followups, in order."""
        found = [self.original] if self.original is not None else []
        return found + [m for m in self.followups if m is not self.original]

    # -- waiting ----------------------------------------------------------------
    async def wait_for_callback(self, *, timeout: float = 5.0) -> CallbackAttempt:
        """The bot's first callback attempt, accepted or not."""
        return await self.signal.wait_for(
            lambda: self.callback_attempts[0] if self.callback_attempts else None,
            timeout=timeout,
            describe=lambda: f"{self!r} got no callback at all",
        )

    async def acknowledged(self, *, timeout: float = 5.0) -> InteractionRecord:
        """Wait for an accepted initial response; fail fast if the emulator rejected it."""

        def check() -> InteractionRecord | None:
            if self.response_type is not None:
                return self
            rejected = [a for a in self.callback_attempts if not a.accepted]
            if rejected:
                a = rejected[0]
                raise AssertionError(
                    f"{self!r}: the initial response was rejected with "
                    f"{a.status} {a.code} {a.message}"
                )
            return None

        return await self.signal.wait_for(
            check, timeout=timeout, describe=lambda: f"{self!r} was never acknowledged"
        )

    async def wait_for_original(
        self,
        predicate: Callable[[Message], bool] | None = None,
        *,
        timeout: float = 10.0,
    ) -> Message:
        """The original response once it is a real message (not "thinking...") and matches."""

        def check() -> Message | None:
            m = self.original
            if m is None or m.deleted or m.loading:
                return None
            return m if predicate is None or predicate(m) else None

        return await self.signal.wait_for(
            check,
            timeout=timeout,
            describe=lambda: f"{self!r}: original response is {self.original!r}",
        )

    async def wait_for_followup(
        self,
        predicate: Callable[[Message], bool] | None = None,
        *,
        timeout: float = 10.0,
        index: int | None = None,
    ) -> Message:
        """A followup message matching ``predicate`` (or the ``index``-th followup)."""

        def check() -> Message | None:
            candidates = [m for m in self.followups if not m.deleted]
            if index is not None:
                candidates = candidates[index : index + 1] if index < len(candidates) else []
            return next((m for m in candidates if predicate is None or predicate(m)), None)

        return await self.signal.wait_for(
            check, timeout=timeout, describe=lambda: f"{self!r}: followups are {self.followups!r}"
        )

    async def wait_for_choices(self, *, timeout: float = 5.0) -> list[JSON]:
        """The suggestions the bot answered an autocomplete with; fails if it was rejected."""
        await self.acknowledged(timeout=timeout)
        return await self.signal.wait_for(
            lambda: self.choices,
            timeout=timeout,
            describe=lambda: f"{self!r} answered with {self.response_type_name}, not choices",
        )

    async def wait_for_modal(self, *, timeout: float = 5.0) -> ModalRecord:
        return await self.signal.wait_for(
            lambda: self.modal,
            timeout=timeout,
            describe=lambda: f"{self!r} answered with {self.response_type_name}, not a modal",
        )

    def __repr__(self) -> str:
        kind = {2: "/", 3: "button ", 4: "autocomplete /", 5: "modal "}.get(self.type, "")
        state = self.response_type_name or ("FAILED" if self.failed else "pending")
        return (
            f"<Interaction {kind}{self.name} by {self.member.name} in #{self.channel.name} {state}>"
        )


class InteractionRegistry:
    def __init__(self) -> None:
        self.all: list[InteractionRecord] = []
        self._by_id: dict[int, InteractionRecord] = {}
        self._by_token: dict[str, InteractionRecord] = {}

    def add(self, record: InteractionRecord) -> None:
        self.all.append(record)
        self._by_id[record.id] = record
        self._by_token[record.token] = record

    def by_id(self, interaction_id: int) -> InteractionRecord | None:
        return self._by_id.get(interaction_id)

    def by_token(self, token: str) -> InteractionRecord | None:
        return self._by_token.get(token)
