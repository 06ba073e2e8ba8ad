"""Creating, editing and deleting messages, shared by channel routes and interaction webhooks.

Both paths obey the same rules (content/embeds/components limits, the empty-message
rule, attachment semantics), so they live here once. Edits follow discord.py's
``attachments`` semantics: an ``attachments`` list keeps the existing attachments it
names by id and adds uploaded ``files[n]`` referenced by ``{"id": n}``; without the
list, uploaded files are appended.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from tests.emulators.discord.clock import EmulatorClock
from tests.emulators.discord.errors import FormErrors, empty_message, unknown_message
from tests.emulators.discord.messages import (
    EPHEMERAL,
    IS_COMPONENTS_V2,
    LOADING,
    MESSAGE_DEFAULT,
    MESSAGE_REPLY,
    SUPPRESS_EMBEDS,
    SUPPRESS_NOTIFICATIONS,
    Attachment,
    Message,
    MessageStore,
    mentioned_ids,
)
from tests.emulators.discord.snowflake import SnowflakeFactory
from tests.emulators.discord.state import Channel, User, World
from tests.emulators.discord.uploads import RequestBody, UploadedFile, sniff
from tests.emulators.discord.validation import validate_message

JSON = dict[str, Any]
Path = tuple[str | int, ...]
MessageListener = Callable[[str, Message], None]

CREATE_FLAGS = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2
WEBHOOK_CREATE_FLAGS = CREATE_FLAGS | EPHEMERAL
EDITABLE_FLAGS = SUPPRESS_EMBEDS | IS_COMPONENTS_V2


class MessageService:
    def __init__(
        self,
        world: World,
        store: MessageStore,
        clock: EmulatorClock,
        snowflakes: SnowflakeFactory,
        cdn_base: Callable[[], str],
    ) -> None:
        self.world = world
        self.store = store
        self.clock = clock
        self.snowflakes = snowflakes
        self.cdn_base = cdn_base
        self.listener: MessageListener | None = None

    # -- public operations ----------------------------------------------------
    def create(
        self,
        channel: Channel,
        author: User,
        body: RequestBody,
        *,
        per_file_limit: int,
        prefix: Path = (),
        allowed_flags: int = CREATE_FLAGS,
        extra_flags: int = 0,
        **fields: Any,
    ) -> Message:
        """Validate a create body and store the message. ``fields`` set Message attributes."""
        payload = body.payload
        errors = FormErrors()
        validate_message(payload, errors, prefix=prefix, file_count=len(body.files))
        reference = self._reference(channel, payload, errors, prefix)
        errors.raise_if_any()
        body.check_file_sizes(per_file_limit)
        attrs: dict[str, Any] = {"type": MESSAGE_REPLY if reference else MESSAGE_DEFAULT}
        attrs.update(fields)
        message = Message(
            id=self.snowflakes.next(),
            channel=channel,
            author=author,
            created_at=self.clock.wall(),
            content=payload.get("content") or "",
            embeds=self._embeds(payload.get("embeds") or []),
            components=_with_component_ids(payload.get("components") or []),
            flags=((payload.get("flags") or 0) & allowed_flags) | extra_flags,
            tts=bool(payload.get("tts", False)),
            message_reference=reference,
            **attrs,
        )
        message.attachments = self._attachments(message, body, existing=[], prefix=prefix)
        self._resolve_embed_attachments(message)
        self._apply_mentions(message, payload)
        if self._is_empty(message):
            raise empty_message()
        self.store.add(message)
        self._announce("MESSAGE_CREATE", message)
        return message

    def create_placeholder(
        self, channel: Channel, author: User, *, flags: int, **fields: Any
    ) -> Message:
        """The deferred "is thinking..." message (callback type 5)."""
        message = Message(
            id=self.snowflakes.next(),
            channel=channel,
            author=author,
            created_at=self.clock.wall(),
            flags=flags | LOADING,
            **fields,
        )
        self.store.add(message)
        self._announce("MESSAGE_CREATE", message)
        return message

    def edit(
        self,
        message: Message,
        body: RequestBody,
        *,
        per_file_limit: int,
        prefix: Path = (),
        resolve_loading: bool = False,
    ) -> Message:
        """Apply a PATCH body. Only fields present in the body change."""
        if message.deleted:
            raise unknown_message()
        payload = body.payload
        errors = FormErrors()
        check = dict(payload)
        if "flags" not in check and message.flags & IS_COMPONENTS_V2:
            check["flags"] = IS_COMPONENTS_V2
        validate_message(check, errors, prefix=prefix, file_count=len(body.files))
        errors.raise_if_any()
        body.check_file_sizes(per_file_limit)
        attachments = message.attachments
        if "attachments" in payload or body.files:
            attachments = self._attachments(
                message, body, existing=message.attachments, prefix=prefix
            )
        new_content = (payload["content"] or "") if "content" in payload else message.content
        new_embeds = (
            self._embeds(payload["embeds"] or []) if "embeds" in payload else message.embeds
        )
        new_components = (
            _with_component_ids(payload["components"] or [])
            if "components" in payload
            else message.components
        )
        candidate = copy.copy(message)
        candidate.content, candidate.embeds = new_content, new_embeds
        candidate.components, candidate.attachments = new_components, attachments
        if self._is_empty(candidate):
            raise empty_message()
        message.remember_version()
        message.content, message.embeds = new_content, new_embeds
        message.components, message.attachments = new_components, attachments
        if "flags" in payload and payload["flags"] is not None:
            keep = message.flags & ~EDITABLE_FLAGS
            message.flags = keep | (int(payload["flags"]) & EDITABLE_FLAGS)
        if resolve_loading:
            message.flags &= ~LOADING
        self._resolve_embed_attachments(message)
        if "content" in payload or "allowed_mentions" in payload:
            self._apply_mentions(message, payload)
        message.edited_at = self.clock.wall()
        self.store.changed()
        self._announce("MESSAGE_UPDATE", message)
        return message

    def delete(self, message: Message) -> None:
        if message.deleted:
            raise unknown_message()
        message.deleted = True
        self.store.changed()
        self._announce("MESSAGE_DELETE", message)

    # -- helpers --------------------------------------------------------------
    def _announce(self, event: str, message: Message) -> None:
        if self.listener is not None and not message.ephemeral:
            self.listener(event, message)

    def attachment_url(self, channel_id: int, attachment_id: int, filename: str) -> str:
        return f"{self.cdn_base()}/attachments/{channel_id}/{attachment_id}/{filename}"

    def make_attachment(
        self,
        channel_id: int,
        filename: str,
        data: bytes,
        *,
        description: str | None = None,
        ephemeral: bool = False,
    ) -> Attachment:
        attachment_id = self.snowflakes.next()
        sniffed = sniff(filename, data)
        return Attachment(
            id=attachment_id,
            filename=filename,
            data=data,
            content_type=sniffed.content_type,
            url=self.attachment_url(channel_id, attachment_id, filename),
            width=sniffed.width,
            height=sniffed.height,
            description=description,
            ephemeral=ephemeral,
        )

    def _attachments(
        self, message: Message, body: RequestBody, *, existing: list[Attachment], prefix: Path
    ) -> list[Attachment]:
        files = {f.index: f for f in body.files}
        by_id = {a.id: a for a in existing}
        result: list[Attachment] = []
        used: set[int] = set()
        meta_list = body.payload.get("attachments")
        errors = FormErrors()
        if isinstance(meta_list, list):
            for i, meta in enumerate(meta_list):
                raw_id = meta.get("id") if isinstance(meta, dict) else None
                try:
                    key = int(raw_id) if raw_id is not None else None
                except (TypeError, ValueError):
                    key = None
                if key is not None and key in by_id:
                    result.append(by_id[key])
                elif key is not None and key in files and key not in used:
                    used.add(key)
                    result.append(self._from_upload(message, files[key], meta))
                else:
                    errors.add(
                        (*prefix, "attachments", i, "id"),
                        "ATTACHMENT_NOT_FOUND",
                        f"Unknown attachment {raw_id}",
                    )
        elif meta_list is None:
            result.extend(existing)
        errors.raise_if_any()
        for index, upload in sorted(files.items()):
            if index not in used:
                result.append(self._from_upload(message, upload, {}))
        if len(result) > 10:
            errors.add(
                (*prefix, "attachments"), "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length."
            )
            errors.raise_if_any()
        return result

    def _from_upload(self, message: Message, upload: UploadedFile, meta: JSON) -> Attachment:
        filename = str(meta.get("filename") or upload.filename)
        return self.make_attachment(
            message.channel.id,
            filename,
            upload.data,
            description=meta.get("description"),
            ephemeral=message.ephemeral,
        )

    @staticmethod
    def _embeds(embeds: list[JSON]) -> list[JSON]:
        out = []
        for embed in embeds:
            e = copy.deepcopy(embed)
            e.setdefault("type", "rich")
            e.setdefault("content_scan_version", 0)
            out.append(e)
        return out

    def _resolve_embed_attachments(self, message: Message) -> None:
        """``attachment://name.png`` in an embed points at that uploaded file, as on Discord."""
        by_name = {a.filename: a for a in message.attachments}
        for embed in message.embeds:
            for key in ("image", "thumbnail"):
                media = embed.get(key)
                if isinstance(media, dict) and str(media.get("url", "")).startswith(
                    "attachment://"
                ):
                    found = by_name.get(media["url"][len("attachment://") :])
                    if found is not None:
                        media.update({"url": found.url, "proxy_url": found.proxy_url})
                        if found.width:
                            media.update({"width": found.width, "height": found.height})

    def _reference(
        self, channel: Channel, payload: JSON, errors: FormErrors, prefix: Path
    ) -> JSON | None:
        ref = payload.get("message_reference")
        if not isinstance(ref, dict) or ref.get("message_id") is None:
            return None
        target = self.store.get(int(ref["message_id"]))
        if target is None or target.deleted or target.ephemeral:
            if ref.get("fail_if_not_exists", True):
                errors.add(
                    (*prefix, "message_reference"),
                    "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                    "Unknown message",
                )
            return None
        return {
            "type": ref.get("type", 0),
            "message_id": str(target.id),
            "channel_id": str(target.channel.id),
            "guild_id": str(target.channel.guild.id),
        }

    def _apply_mentions(self, message: Message, payload: JSON) -> None:
        user_ids, role_ids, everyone = mentioned_ids(message.content)
        allowed = payload.get("allowed_mentions")
        if isinstance(allowed, dict):
            parse = allowed.get("parse") or []
            if "users" not in parse:
                listed = {int(u) for u in allowed.get("users") or []}
                user_ids = [u for u in user_ids if u in listed]
            if "roles" not in parse:
                listed_roles = {int(r) for r in allowed.get("roles") or []}
                role_ids = [r for r in role_ids if r in listed_roles]
            everyone = everyone and "everyone" in parse
            replied = allowed.get("replied_user", False)
        else:
            replied = True
        if message.referenced_message_id is not None and replied:
            target = self.store.get(message.referenced_message_id)
            if target is not None:
                user_ids.append(target.author.id)
        guild = message.channel.guild
        seen: set[int] = set()
        mentions: list[User] = []
        for uid in user_ids:
            user = self.world.users.get(uid)
            if user is not None and uid not in seen:
                seen.add(uid)
                mentions.append(user)
        message.mentions = mentions
        message.mention_role_ids = [
            r for r in dict.fromkeys(role_ids) if guild.get_role(r) is not None
        ]
        message.mention_everyone = everyone

    @staticmethod
    def _is_empty(message: Message) -> bool:
        return not (
            message.content.strip() or message.embeds or message.attachments or message.components
        )


def _with_component_ids(components: list[JSON]) -> list[JSON]:
    """Discord numbers every component of a message; missing ids are filled in order."""
    tree = copy.deepcopy(components)
    taken: set[int] = set()
    flat: list[JSON] = []

    def walk(items: list[JSON]) -> None:
        for c in items:
            if not isinstance(c, dict):
                continue
            flat.append(c)
            if isinstance(c.get("id"), int):
                taken.add(c["id"])
            walk(c.get("components") or [])
            if isinstance(c.get("accessory"), dict):
                walk([c["accessory"]])

    walk(tree)
    next_id = 1
    for c in flat:
        if not isinstance(c.get("id"), int):
            while next_id in taken:
                next_id += 1
            c["id"] = next_id
            taken.add(next_id)
    return tree
