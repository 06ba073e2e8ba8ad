"""What the Discord client builds when a member acts: slash commands, clicks, modal submits.

The client checks a lot before anything reaches the bot: the command must be synced
and visible to the member, options must match the synced definition (types,
``min_value``/``max_value``, lengths, choices, required ones present), a button must
exist and be enabled. Anything the client would refuse raises
:class:`~tests.emulators.discord.errors.ClientRejected` in the test, because no
real user could ever make the bot see it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.emulators.discord.commands import (
    ATTACHMENT,
    BOOLEAN,
    CHANNEL,
    INTEGER,
    MAX_SAFE_INTEGER,
    MENTIONABLE,
    MESSAGE_COMMAND,
    NUMBER,
    OPTION_TYPE_NAMES,
    ROLE,
    STRING,
    SUB_COMMAND,
    SUB_COMMAND_GROUP,
    USER,
    CommandRegistry,
)
from tests.emulators.discord.errors import ClientRejected
from tests.emulators.discord.interactions import ModalRecord
from tests.emulators.discord.messages import Attachment, Message
from tests.emulators.discord.permissions import Permission
from tests.emulators.discord.state import Channel, Member, Role, User

JSON = dict[str, Any]
AttachmentFactory = Callable[[str, bytes], Attachment]


@dataclass(frozen=True)
class Upload:
    """A file a member attaches to an ATTACHMENT option: ``image=Upload("cat.png", png_bytes)``."""

    filename: str
    data: bytes


def interaction_base(
    *,
    interaction_id: int,
    interaction_type: int,
    token: str,
    application_id: int,
    member: Member,
    channel: Channel,
    locale: str,
    attachment_size_limit: int,
    data: JSON | None,
) -> JSON:
    """The fields every interaction carries, shaped as Discord sends them for its place."""
    guild = channel.guild
    if guild.kind != "server" or not guild.bot_present:
        return _personal_base(
            interaction_id=interaction_id,
            interaction_type=interaction_type,
            token=token,
            application_id=application_id,
            member=member,
            channel=channel,
            locale=locale,
            attachment_size_limit=attachment_size_limit,
            data=data,
        )
    member_perms = member.permissions_in(channel)
    payload: JSON = {
        "id": str(interaction_id),
        "application_id": str(application_id),
        "type": interaction_type,
        "guild": {"id": str(guild.id), "locale": guild.locale, "features": []},
        "guild_id": str(guild.id),
        "guild_locale": guild.locale,
        "channel_id": str(channel.id),
        "channel": channel.payload(permissions=member_perms),
        "member": member.payload(permissions=member_perms),
        "app_permissions": str(guild.me.permissions_in(channel)),
        "locale": locale,
        "token": token,
        "version": 1,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "authorizing_integration_owners": {"0": str(guild.id)},
        "context": 0,
        "attachment_size_limit": attachment_size_limit,
    }
    if data is not None:
        payload["data"] = data
    return payload


# What Discord lets an app do where only a user installed it (no bot there to hold roles).
USER_INSTALL_APP_PERMISSIONS = (
    Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.USE_APPLICATION_COMMANDS
)


def integration_owners(member: Member, channel: Channel) -> JSON:
    """``authorizing_integration_owners`` for an interaction by ``member`` in ``channel``."""
    guild = channel.guild
    installed = member.id in guild.world.user_installs
    owners: JSON = {}
    if guild.kind == "server" and guild.bot_present:
        owners["0"] = str(guild.id)
    elif guild.kind == "bot_dm":
        owners["0"] = "0"
    if installed:
        owners["1"] = str(member.id)
    return owners


def interaction_context(channel: Channel) -> int:
    """0 a server channel, 1 the bot's DM, 2 a group DM (or a DM between users)."""
    return {"server": 0, "bot_dm": 1, "group_dm": 2}[channel.guild.kind]


def _personal_base(
    *,
    interaction_id: int,
    interaction_type: int,
    token: str,
    application_id: int,
    member: Member,
    channel: Channel,
    locale: str,
    attachment_size_limit: int,
    data: JSON | None,
) -> JSON:
    """A place READY never listed: a server without the bot, the bot's DM, a group DM."""
    guild = channel.guild
    payload: JSON = {
        "id": str(interaction_id),
        "application_id": str(application_id),
        "type": interaction_type,
        "channel_id": str(channel.id),
        "locale": locale,
        "token": token,
        "version": 1,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "authorizing_integration_owners": integration_owners(member, channel),
        "context": interaction_context(channel),
        "attachment_size_limit": attachment_size_limit,
        "app_permissions": str(USER_INSTALL_APP_PERMISSIONS),
    }
    if guild.kind == "server":  # a server where only the member installed the app
        perms = member.permissions_in(channel)
        payload.update(
            {
                "guild": {"id": str(guild.id), "locale": guild.locale, "features": []},
                "guild_id": str(guild.id),
                "guild_locale": guild.locale,
                "channel": channel.payload(permissions=perms),
                "member": member.payload(permissions=perms),
            }
        )
    else:
        others = [m.user for m in guild.members.values() if m.user.id != member.id]
        if guild.kind == "bot_dm":
            others = [guild.world.bot_user]
        else:
            others = [u for u in others if not u.bot]
        channel_data: JSON = {
            "id": str(channel.id),
            "type": channel.type,
            "last_message_id": None,
            "flags": 0,
            "recipients": [u.payload() for u in others],
        }
        if guild.kind == "group_dm":
            channel_data.update({"name": channel.name, "owner_id": str(member.id), "icon": None})
        payload["channel"] = channel_data
        payload["user"] = member.user.payload()
    if data is not None:
        payload["data"] = data
    return payload


def check_can_use_commands(member: Member, channel: Channel) -> None:
    if channel.guild.kind != "server":
        return  # no permissions to hold in a DM
    perms = member.permissions_in(channel)
    if not perms & Permission.VIEW_CHANNEL:
        raise ClientRejected(f"{member.name} cannot see #{channel.name}")
    if not perms & Permission.USE_APPLICATION_COMMANDS:
        raise ClientRejected(f"{member.name} may not use application commands in #{channel.name}")


def _check_visible(command: JSON, member: Member, channel: Channel) -> None:
    name = command["name"]
    required = command.get("default_member_permissions")
    if required is not None and channel.guild.kind == "server":
        needed = int(required)
        guild_perms = member.guild_permissions()
        is_admin = bool(guild_perms & Permission.ADMINISTRATOR)
        if not is_admin and (needed == 0 or member.permissions_in(channel) & needed != needed):
            raise ClientRejected(
                f"/{name} is hidden from {member.name}: it needs permissions {needed} "
                f"(default_member_permissions) and they have {member.permissions_in(channel)}"
            )
    if command.get("nsfw") and not channel.nsfw:
        raise ClientRejected(
            f"/{name} is age-restricted and #{channel.name} is not an NSFW channel"
        )
    _check_place(command, member, channel)


def _check_place(command: JSON, member: Member, channel: Channel) -> None:
    """Offered here? ``contexts`` say where, ``integration_types`` through whose install."""
    name = command["name"]
    guild = channel.guild
    context = interaction_context(channel)
    contexts = command.get("contexts")
    if contexts is not None and context not in contexts:
        where = {0: "in servers", 1: "in the bot's DM", 2: "in group DMs"}[context]
        raise ClientRejected(f"/{name} is not available {where} (contexts={contexts})")
    types = command.get("integration_types") or [0]
    installed = member.id in guild.world.user_installs
    if (guild.kind == "server" and guild.bot_present) or guild.kind == "bot_dm":
        if 0 in types or (1 in types and installed):
            return
    elif 1 in types and installed:
        return
    raise ClientRejected(
        f"/{name} cannot be used by {member.name} in {guild.kind} {guild.name!r}: "
        f"integration_types={types}, user install={'yes' if installed else 'no'}"
    )


def build_slash_data(
    commands: CommandRegistry,
    member: Member,
    channel: Channel,
    words: list[str],
    options: Mapping[str, Any],
    make_attachment: AttachmentFactory,
    *,
    focused: str | None = None,
) -> tuple[JSON, str]:
    """``data`` of an APPLICATION_COMMAND interaction, and the full command path.

    With ``focused`` it is an AUTOCOMPLETE interaction's instead: the member is typing
    that option (its text so far is its value, unchecked), the others are as filled in.
    """
    guild = channel.guild
    check_can_use_commands(member, channel)
    personal = guild.kind != "server" or not guild.bot_present
    # Server commands exist only where the bot's server install is; elsewhere, global ones.
    command = commands.find(None, words[0]) if personal else commands.find(guild.id, words[0])
    if command is None:
        available = sorted(
            {c["name"] for c in commands.definitions(guild.id) + commands.definitions(None)}
        )
        raise ClientRejected(f"/{words[0]} is not synced for {guild.name!r}; synced: {available}")
    if (
        not personal
        and any(
            c["name"] == command["name"] and c["type"] == command["type"]
            for c in commands.definitions(None)
        )
        and any(
            c["name"] == command["name"] and c["type"] == command["type"]
            for c in commands.definitions(guild.id)
        )
    ):
        raise ClientRejected(
            f"{member.name} sees /{command['name']} twice in {guild.name!r}: "
            "once as a server command and once as a global one"
        )
    _check_visible(command, member, channel)
    rest = list(words[1:])
    defs: list[JSON] = command.get("options") or []
    chain: list[JSON] = []
    while defs and defs[0]["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP):
        choices = [d["name"] for d in defs]
        if not rest:
            raise ClientRejected(f"/{' '.join(words)} needs a subcommand, one of {choices}")
        word = rest.pop(0)
        sub = next((d for d in defs if d["name"] == word), None)
        if sub is None:
            raise ClientRejected(
                f"/{' '.join(words)}: no subcommand {word!r}; choose one of {choices}"
            )
        chain.append(sub)
        defs = sub.get("options") or []
    if rest:
        raise ClientRejected(f"/{command['name']} has no subcommand {rest[0]!r}")
    path = " ".join([command["name"], *(c["name"] for c in chain)])
    resolved: dict[str, dict[str, JSON]] = {}
    if focused is None:
        leaf = _build_options(path, defs, options, member, channel, resolved, make_attachment)
    else:
        leaf = _build_partial_options(
            path, defs, options, focused, member, channel, resolved, make_attachment
        )
    tree: list[JSON] = leaf
    for sub in reversed(chain):
        tree = [{"name": sub["name"], "type": sub["type"], "options": tree}]
    data: JSON = {"id": command["id"], "name": command["name"], "type": 1}
    if tree:
        data["options"] = tree
    if "guild_id" in command:
        data["guild_id"] = command["guild_id"]
    if resolved:
        data["resolved"] = resolved
    return data, path


def _build_options(
    path: str,
    defs: list[JSON],
    options: Mapping[str, Any],
    member: Member,
    channel: Channel,
    resolved: dict[str, dict[str, JSON]],
    make_attachment: AttachmentFactory,
) -> list[JSON]:
    by_name = {d["name"]: d for d in defs}
    given: dict[str, Any] = {}
    for key, value in options.items():
        name = key if key in by_name else key.replace("_", "-")
        if name not in by_name:
            raise ClientRejected(f"/{path} has no option {key!r}; options are {list(by_name)}")
        if value is not None:
            given[name] = value
    built: list[JSON] = []
    for definition in defs:
        name = definition["name"]
        if name not in given:
            if definition.get("required"):
                raise ClientRejected(f"/{path}: required option {name!r} is missing")
            continue
        value = _convert(path, definition, given[name], member, channel, resolved, make_attachment)
        built.append({"name": name, "type": definition["type"], "value": value})
    return built


def _build_partial_options(
    path: str,
    defs: list[JSON],
    options: Mapping[str, Any],
    focused: str,
    member: Member,
    channel: Channel,
    resolved: dict[str, dict[str, JSON]],
    make_attachment: AttachmentFactory,
) -> list[JSON]:
    """The options while the member types ``focused``: the client asks for suggestions
    only for an option declared with ``autocomplete``, and sends what is typed so far."""
    by_name = {d["name"]: d for d in defs}
    name = focused if focused in by_name else focused.replace("_", "-")
    definition = by_name.get(name)
    if definition is None:
        raise ClientRejected(f"/{path} has no option {focused!r}; options are {list(by_name)}")
    if not definition.get("autocomplete"):
        raise ClientRejected(
            f"/{path} option {name!r} has no autocomplete: the client never asks for suggestions"
        )
    key = next((k for k in options if k in (focused, name)), None)
    typing = "" if key is None else options[key]
    if not isinstance(typing, str):
        raise ClientRejected(f"what is typed into {name!r} so far is text, not {typing!r}")
    others = {k: v for k, v in options.items() if k != key}
    # The other options as filled in so far, checked as usual; none is required yet.
    loose = [{**d, "required": False} for d in defs]
    built = _build_options(path, loose, others, member, channel, resolved, make_attachment)
    typed = {"name": name, "type": definition["type"], "value": typing, "focused": True}
    order = [d["name"] for d in defs]  # the client sends them in declared order
    return sorted([*built, typed], key=lambda option: order.index(option["name"]))


def build_message_command_data(
    commands: CommandRegistry, member: Member, message: Message, name: str
) -> JSON:
    """``data`` of a message command (type 3): the message named and resolved in full."""
    channel = message.channel
    check_can_use_commands(member, channel)
    check_can_see(member, message)
    command = commands.find(channel.guild.id, name, MESSAGE_COMMAND)
    if command is None:
        available = sorted(
            c["name"]
            for c in commands.definitions(channel.guild.id) + commands.definitions(None)
            if c["type"] == MESSAGE_COMMAND
        )
        raise ClientRejected(
            f"no message command {name!r} is synced; message commands: {available}"
        )
    _check_visible(command, member, channel)
    data: JSON = {
        "id": command["id"],
        "name": command["name"],
        "type": MESSAGE_COMMAND,
        "target_id": str(message.id),
        "resolved": {"messages": {str(message.id): message.payload()}},
    }
    if "guild_id" in command:
        data["guild_id"] = command["guild_id"]
    return data


def _reject(path: str, definition: JSON, value: Any, why: str) -> ClientRejected:
    kind = OPTION_TYPE_NAMES.get(definition["type"], definition["type"])
    return ClientRejected(
        f"/{path} option {definition['name']!r} ({kind}) refuses {value!r}: {why}"
    )


def _convert(
    path: str,
    definition: JSON,
    value: Any,
    member: Member,
    channel: Channel,
    resolved: dict[str, dict[str, JSON]],
    make_attachment: AttachmentFactory,
) -> Any:
    kind = definition["type"]
    guild = channel.guild
    if kind == STRING:
        if not isinstance(value, str):
            raise _reject(path, definition, value, "not text")
        low = max(1, definition.get("min_length") or 0)
        high = definition.get("max_length") or 6000
        if not low <= len(value) <= high:
            raise _reject(path, definition, value, f"length must be {low}..{high}")
    elif kind == INTEGER:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _reject(path, definition, value, "not an integer")
        if abs(value) > MAX_SAFE_INTEGER:
            raise _reject(path, definition, value, "outside ±(2^53-1)")
    elif kind == NUMBER:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _reject(path, definition, value, "not a number")
    elif kind == BOOLEAN and not isinstance(value, bool):
        raise _reject(path, definition, value, "not True/False")
    if kind in (INTEGER, NUMBER):
        low, high = definition.get("min_value"), definition.get("max_value")
        if low is not None and value < low:
            raise _reject(path, definition, value, f"below min_value {low}")
        if high is not None and value > high:
            raise _reject(path, definition, value, f"above max_value {high}")
    choices = definition.get("choices")
    if choices and kind in (STRING, INTEGER, NUMBER):
        allowed = [c["value"] for c in choices]
        if value not in allowed:
            raise _reject(path, definition, value, f"not one of the choices {allowed}")
    if kind in (STRING, INTEGER, NUMBER, BOOLEAN):
        return value
    if kind == ATTACHMENT:
        if not isinstance(value, Upload):
            raise _reject(path, definition, value, "pass an Upload(filename, data)")
        attachment = make_attachment(value.filename, value.data)
        resolved.setdefault("attachments", {})[str(attachment.id)] = attachment.payload()
        return str(attachment.id)
    return _resolve_entity(path, definition, value, member, channel, resolved, guild)


def _resolve_entity(
    path: str,
    definition: JSON,
    value: Any,
    member: Member,
    channel: Channel,
    resolved: dict[str, dict[str, JSON]],
    guild: Any,
) -> str:
    kind = definition["type"]
    if kind in (USER, MENTIONABLE) and isinstance(value, Member | User):
        user = value.user if isinstance(value, Member) else value
        target = value if isinstance(value, Member) else guild.get_member(user.id)
        resolved.setdefault("users", {})[str(user.id)] = user.payload()
        if target is not None and target.guild is guild:
            resolved.setdefault("members", {})[str(user.id)] = target.payload(
                with_user=False, permissions=target.permissions_in(channel)
            )
        return str(user.id)
    if kind in (ROLE, MENTIONABLE) and isinstance(value, Role):
        if value.guild is not guild:
            raise _reject(path, definition, value, "role from another server")
        resolved.setdefault("roles", {})[str(value.id)] = value.payload()
        return str(value.id)
    if kind == CHANNEL and isinstance(value, Channel):
        if value.guild is not guild:
            raise _reject(path, definition, value, "channel from another server")
        types = definition.get("channel_types")
        if types and value.type not in types:
            raise _reject(path, definition, value, f"channel type {value.type} not in {types}")
        entry = {
            "id": str(value.id),
            "name": value.name,
            "type": value.type,
            "permissions": str(member.permissions_in(value)),
            "parent_id": str(value.parent_id) if value.parent_id else None,
            "nsfw": value.nsfw,
        }
        resolved.setdefault("channels", {})[str(value.id)] = entry
        return str(value.id)
    raise _reject(path, definition, value, "wrong kind of object")


def check_can_see(member: Member, message: Message) -> None:
    if message.deleted:
        raise ClientRejected(f"{message!r} was deleted")
    if message.visible_to is not None and message.visible_to != member.id:
        raise ClientRejected(f"{member.name} cannot see someone else's ephemeral {message!r}")
    if not member.permissions_in(message.channel) & Permission.VIEW_CHANNEL:
        raise ClientRejected(f"{member.name} cannot see #{message.channel.name}")


def button_data(member: Member, message: Message, custom_id: str | None, label: str | None) -> JSON:
    check_can_see(member, message)
    button = message.button(custom_id, label=label)
    wanted = custom_id if custom_id is not None else f"label {label!r}"
    if button is None:
        shown = [(b.get("label"), b.get("custom_id")) for b in message.buttons]
        raise ClientRejected(f"{message!r} has no button {wanted}; buttons: {shown}")
    if button.get("disabled"):
        raise ClientRejected(f"button {wanted} on {message!r} is disabled")
    if button.get("style") in (5, 6) or "custom_id" not in button:
        raise ClientRejected(
            f"button {wanted} is a link/premium button; the bot never hears about it"
        )
    data: JSON = {"custom_id": button["custom_id"], "component_type": 2}
    if "id" in button:
        data["id"] = button["id"]
    return data


def select_data(member: Member, message: Message, custom_id: str, values: list[str]) -> JSON:
    check_can_see(member, message)
    select = next(
        (
            c
            for c in message.all_components()
            if c.get("type") in (3, 5, 6, 7, 8) and c.get("custom_id") == custom_id
        ),
        None,
    )
    if select is None:
        raise ClientRejected(f"{message!r} has no select menu {custom_id!r}")
    if select.get("disabled"):
        raise ClientRejected(f"select menu {custom_id!r} is disabled")
    low, high = select.get("min_values", 1), select.get("max_values", 1)
    if not low <= len(values) <= high:
        raise ClientRejected(
            f"select menu {custom_id!r} takes {low}..{high} values, not {len(values)}"
        )
    if select.get("type") == 3:
        allowed = [o["value"] for o in select.get("options", [])]
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise ClientRejected(
                f"select menu {custom_id!r} has no options {unknown}; options: {allowed}"
            )
    data: JSON = {"custom_id": custom_id, "component_type": select["type"], "values": list(values)}
    if "id" in select:
        data["id"] = select["id"]
    return data


def modal_submit_data(modal: ModalRecord, values: Mapping[str, str | list[str]]) -> JSON:
    """Fill a modal like a user: keys match an input's custom_id or, ignoring case, its label."""
    inputs = modal.inputs()
    chosen: dict[str, str | list[str]] = {}
    for key, value in values.items():
        match = next((i for i in inputs if i.get("custom_id") == key), None) or next(
            (i for i in inputs if str(i.get("label", "")).lower() == key.lower()), None
        )
        if match is None:
            labels = [(i.get("label"), i.get("custom_id")) for i in inputs]
            raise ClientRejected(f"{modal!r} has no input {key!r}; inputs: {labels}")
        chosen[match["custom_id"]] = value

    def submitted(component: JSON) -> JSON:
        cid = component["custom_id"]
        label = component.get("label") or cid
        if component.get("type") == 4:
            value = chosen.get(cid, component.get("value") or "")
            if not isinstance(value, str):
                raise ClientRejected(f"text input {label!r} takes text")
            if component.get("required", True) and not value:
                raise ClientRejected(f"{modal!r}: {label!r} is required")
            low, high = component.get("min_length") or 0, component.get("max_length") or 4000
            if value and not low <= len(value) <= high:
                raise ClientRejected(
                    f"{modal!r}: {label!r} must be {low}..{high} characters, got {len(value)}"
                )
            out: JSON = {"type": 4, "custom_id": cid, "value": value}
        else:
            picked = chosen.get(cid, [])
            picked_list = [picked] if isinstance(picked, str) else list(picked)
            if component.get("required", True) and not picked_list:
                raise ClientRejected(f"{modal!r}: {label!r} is required")
            out = {"type": component.get("type"), "custom_id": cid, "values": picked_list}
        if "id" in component:
            out["id"] = component["id"]
        return out

    rows: list[JSON] = []
    for c in modal.components:
        if c.get("type") == 1:
            row: JSON = {"type": 1, "components": [submitted(x) for x in c.get("components", [])]}
            if "id" in c:
                row["id"] = c["id"]
            rows.append(row)
        elif c.get("type") == 18 and isinstance(c.get("component"), dict):
            label_row: JSON = {"type": 18, "component": submitted(c["component"])}
            if "id" in c:
                label_row["id"] = c["id"]
            rows.append(label_row)
        elif c.get("type") == 10:
            rows.append({"type": 10, "id": c.get("id", 0)})
    return {"custom_id": modal.custom_id, "components": rows}
