"""The emulated Discord world: application, users, guilds, channels, roles, members.

Plain Python records that render themselves as Discord JSON. Tests build the world
through :class:`Guild` methods (``guild.add_channel("general")``); changes made
after the bot connected are announced through :attr:`World.listener`, which the
gateway turns into dispatches (CHANNEL_CREATE, GUILD_ROLE_CREATE, ...).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.emulators.discord.clock import EmulatorClock
from tests.emulators.discord.permissions import (
    Overwrite,
    Permission,
    base_permissions,
    channel_permissions,
)
from tests.emulators.discord.snowflake import SnowflakeFactory, iso_timestamp

JSON = dict[str, Any]

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
#: Upload limit per boost tier, as Discord (and discord.py's Guild.filesize_limit) has it.
UPLOAD_LIMIT_BY_TIER = {
    0: DEFAULT_UPLOAD_LIMIT,
    1: DEFAULT_UPLOAD_LIMIT,
    2: 52_428_800,
    3: 104_857_600,
}

TEXT_CHANNEL = 0
CATEGORY_CHANNEL = 4
ANNOUNCEMENT_CHANNEL = 5

#: Listener signature: (guild or None for global, event name, payload).
Listener = Callable[["Guild | None", str, JSON], None]


@dataclass(eq=False)
class User:
    """A Discord account (a person, or the bot itself)."""

    id: int
    username: str
    bot: bool = False
    global_name: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "avatar_decoration_data": None,
            "collectibles": None,
            "primary_guild": None,
            "public_flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data

    def __repr__(self) -> str:
        return f"<User {self.username} id={self.id}>"


@dataclass(eq=False)
class Role:
    id: int
    guild: Guild
    name: str
    permissions: int
    position: int
    color: int = 0
    hoist: bool = False
    mentionable: bool = False
    managed_by_bot: int | None = None

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"

    def payload(self) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "name": self.name,
            "description": None,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "managed": self.managed_by_bot is not None,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if self.managed_by_bot is not None:
            data["tags"] = {"bot_id": str(self.managed_by_bot)}
        return data

    def __repr__(self) -> str:
        return f"<Role {self.name} id={self.id}>"


@dataclass(eq=False)
class Member:
    """A user's membership in one guild. Tests use members to play people."""

    user: User
    guild: Guild
    roles: list[Role]
    joined_at: float
    nick: str | None = None

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.username

    @property
    def mention(self) -> str:
        return self.user.mention

    @property
    def is_owner(self) -> bool:
        return self.guild.owner_id == self.user.id

    def guild_permissions(self) -> int:
        return base_permissions(
            is_owner=self.is_owner,
            everyone_permissions=self.guild.everyone.permissions,
            role_permissions=(r.permissions for r in self.roles),
        )

    def permissions_in(self, channel: Channel) -> int:
        return channel_permissions(
            self.guild_permissions(),
            guild_id=self.guild.id,
            member_id=self.user.id,
            role_ids=(r.id for r in self.roles),
            overwrites=channel.overwrites,
        )

    def add_role(self, role: Role) -> None:
        if role not in self.roles:
            self.roles.append(role)

    def remove_role(self, role: Role) -> None:
        if role in self.roles:
            self.roles.remove(role)

    def payload(self, *, with_user: bool = True, permissions: int | None = None) -> JSON:
        data: JSON = {
            "roles": [str(r.id) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": iso_timestamp(self.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
            "unusual_dm_activity_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data

    def __repr__(self) -> str:
        return f"<Member {self.user.username} guild={self.guild.name!r}>"


@dataclass(eq=False)
class Channel:
    """A guild channel. Only text-like channels carry messages."""

    id: int
    guild: Guild
    name: str
    type: int = TEXT_CHANNEL
    position: int = 0
    nsfw: bool = False
    topic: str | None = None
    parent_id: int | None = None
    rate_limit_per_user: int = 0
    overwrites: dict[int, Overwrite] = field(default_factory=dict)

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    @property
    def guild_id(self) -> int:
        return self.guild.id

    def set_permissions(self, target: Role | Member, *, allow: int = 0, deny: int = 0) -> None:
        """Add or replace an overwrite: ``general.set_permissions(guild.me, deny=ATTACH_FILES)``.

        With neither ``allow`` nor ``deny`` the overwrite is removed."""
        kind = 0 if isinstance(target, Role) else 1
        if allow == 0 and deny == 0:
            self.overwrites.pop(target.id, None)
        else:
            self.overwrites[target.id] = Overwrite(id=target.id, type=kind, allow=allow, deny=deny)
        self.guild.world.emit(self.guild, "CHANNEL_UPDATE", self.payload())

    def set_nsfw(self, nsfw: bool) -> None:
        self.nsfw = nsfw
        self.guild.world.emit(self.guild, "CHANNEL_UPDATE", self.payload())

    def payload(self, *, permissions: int | None = None) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild.id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [o.payload() for o in self.overwrites.values()],
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "flags": 0,
        }
        if self.type != CATEGORY_CHANNEL:
            data.update(
                {
                    "nsfw": self.nsfw,
                    "topic": self.topic,
                    "last_message_id": None,
                    "rate_limit_per_user": self.rate_limit_per_user,
                }
            )
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data

    def __repr__(self) -> str:
        return f"<Channel #{self.name} id={self.id}{' nsfw' if self.nsfw else ''}>"


class Guild:
    """A server. Build it in tests: channels, roles, members, and permission overwrites."""

    def __init__(
        self,
        world: World,
        *,
        id: int,
        name: str,
        premium_tier: int,
        upload_limit: int,
        locale: str,
        everyone_permissions: int,
        bot_permissions: int,
    ) -> None:
        self.world = world
        self.id = id
        self.name = name
        self.premium_tier = premium_tier
        self.upload_limit = upload_limit
        self.locale = locale
        self.joined_at = world.clock.wall()
        self.channels: list[Channel] = []
        self.roles: list[Role] = [
            Role(id=id, guild=self, name="@everyone", permissions=everyone_permissions, position=0)
        ]
        self.members: dict[int, Member] = {}
        #: "server", or a personal place built by World.add_place: "bot_dm", "group_dm".
        self.kind = "server"
        #: False where only a user installed the app: the bot token gets 403 50001 there.
        self.bot_present = True
        # Nobody in the test owns the server unless a member is added with owner=True.
        self.owner_id: int = world.snowflakes.next()
        bot_role = self.add_role(
            world.bot_user.username, permissions=bot_permissions, _managed_by=world.bot_user.id
        )
        self.me: Member = self._join(world.bot_user, [bot_role])

    # -- building the world -------------------------------------------------
    @property
    def everyone(self) -> Role:
        return self.roles[0]

    @property
    def bot_role(self) -> Role:
        """The managed role Discord creates for the bot when it is invited."""
        return next(r for r in self.roles if r.managed_by_bot is not None)

    @property
    def member_count(self) -> int:
        return len(self.members)

    def add_channel(
        self,
        name: str,
        *,
        nsfw: bool = False,
        topic: str | None = None,
        type: int = TEXT_CHANNEL,
        category: Channel | None = None,
    ) -> Channel:
        channel = Channel(
            id=self.world.snowflakes.next(),
            guild=self,
            name=name,
            type=type,
            position=len(self.channels),
            nsfw=nsfw,
            topic=topic,
            parent_id=category.id if category is not None else None,
        )
        self.channels.append(channel)
        self.world.emit(self, "CHANNEL_CREATE", channel.payload())
        return channel

    def add_role(
        self,
        name: str,
        *,
        permissions: int = 0,
        color: int = 0,
        hoist: bool = False,
        mentionable: bool = False,
        _managed_by: int | None = None,
    ) -> Role:
        role = Role(
            id=self.world.snowflakes.next(),
            guild=self,
            name=name,
            permissions=permissions,
            position=len(self.roles),
            color=color,
            hoist=hoist,
            mentionable=mentionable,
            managed_by_bot=_managed_by,
        )
        self.roles.append(role)
        self.world.emit(
            self, "GUILD_ROLE_CREATE", {"guild_id": str(self.id), "role": role.payload()}
        )
        return role

    def add_member(
        self,
        name: str,
        *,
        roles: Iterable[Role] = (),
        owner: bool = False,
        nick: str | None = None,
        global_name: str | None = None,
    ) -> Member:
        user = self.world.add_user(name, global_name=global_name)
        member = self._join(user, list(roles))
        member.nick = nick
        if owner:
            self.owner_id = user.id
        return member

    def add_existing_user(self, user: User, *, roles: Iterable[Role] = ()) -> Member:
        """Let a user who is already in another emulated guild join this one too."""
        return self._join(user, list(roles))

    def _join(self, user: User, roles: list[Role]) -> Member:
        member = Member(user=user, guild=self, roles=roles, joined_at=self.world.clock.wall())
        self.members[user.id] = member
        payload = member.payload()
        payload["guild_id"] = str(self.id)
        self.world.emit(self, "GUILD_MEMBER_ADD", payload)
        return member

    # -- lookups ------------------------------------------------------------
    def get_channel(self, channel_id: int) -> Channel | None:
        return next((c for c in self.channels if c.id == channel_id), None)

    def get_role(self, role_id: int) -> Role | None:
        return next((r for r in self.roles if r.id == role_id), None)

    def get_member(self, user_id: int) -> Member | None:
        return self.members.get(user_id)

    def channel(self, name: str) -> Channel:
        found = next((c for c in self.channels if c.name == name), None)
        if found is None:
            raise KeyError(f"no channel #{name} in {self.name!r}")
        return found

    def member(self, name: str) -> Member:
        found = next((m for m in self.members.values() if m.user.username == name), None)
        if found is None:
            raise KeyError(f"no member {name!r} in {self.name!r}")
        return found

    def shard_id(self, shard_count: int) -> int:
        return (self.id >> 22) % shard_count

    # -- payloads -----------------------------------------------------------
    def _base_payload(self) -> JSON:
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "icon_hash": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "region": "deprecated",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": self.premium_tier,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": self.locale,
            "features": [],
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "max_members": 500000,
            "max_presences": None,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "widget_enabled": False,
            "application_id": None,
            "roles": [r.payload() for r in self.roles],
            "emojis": [],
            "stickers": [],
            "incidents_data": None,
        }

    def rest_payload(self, *, with_counts: bool = False) -> JSON:
        data = self._base_payload()
        if with_counts:
            data["approximate_member_count"] = self.member_count
            data["approximate_presence_count"] = 0
        return data

    def gateway_create_payload(self, *, all_members: bool) -> JSON:
        """GUILD_CREATE as sent to a bot; members beyond the bot itself need GUILD_MEMBERS."""
        data = self._base_payload()
        members = list(self.members.values()) if all_members else [self.me]
        data.update(
            {
                "unavailable": False,
                "large": self.member_count > 250,
                "lazy": True,
                "joined_at": iso_timestamp(self.joined_at),
                "member_count": self.member_count,
                "members": [m.payload() for m in members],
                "channels": [c.payload() for c in self.channels],
                "threads": [],
                "presences": [],
                "voice_states": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
                "embedded_activities": [],
                "application_command_counts": {},
            }
        )
        return data

    def __repr__(self) -> str:
        return f"<Guild {self.name!r} id={self.id}>"


class World:
    """Everything Discord knows: the application, its bot user, users and guilds."""

    def __init__(self, clock: EmulatorClock, *, bot_name: str) -> None:
        self.clock = clock
        self.snowflakes = SnowflakeFactory(clock)
        self.listener: Listener | None = None
        self.users: dict[int, User] = {}
        self.guilds: list[Guild] = []
        #: Places READY never lists: servers without the bot, the bot's DMs, group DMs.
        self.places: list[Guild] = []
        #: Users who installed the app to their own account.
        self.user_installs: set[int] = set()
        # Modern applications share their id with their bot user.
        self.bot_user = self.add_user(bot_name, bot=True)
        self.application_id = self.bot_user.id
        self.application_name = bot_name
        self.owner = self.add_user(f"{bot_name.lower()}-owner")
        self.bot_token = _make_token(self.bot_user.id)
        self.application_flags = 0

    def emit(self, guild: Guild | None, event: str, payload: JSON) -> None:
        # A guild still being built announces itself once, with GUILD_CREATE.
        if guild is not None and guild not in self.guilds:
            return
        if self.listener is not None:
            self.listener(guild, event, payload)

    def add_user(self, name: str, *, bot: bool = False, global_name: str | None = None) -> User:
        user = User(id=self.snowflakes.next(), username=name, bot=bot, global_name=global_name)
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str,
        *,
        upload_limit: int | None = None,
        premium_tier: int | None = None,
        locale: str = "en-US",
        everyone_permissions: int = Permission.DEFAULT_EVERYONE,
        bot_permissions: int = Permission.DEFAULT_BOT,
        guild_id: int | None = None,
    ) -> Guild:
        if premium_tier is None:
            tiers = {
                limit: tier for tier, limit in sorted(UPLOAD_LIMIT_BY_TIER.items(), reverse=True)
            }
            premium_tier = tiers.get(upload_limit or DEFAULT_UPLOAD_LIMIT, 0)
        if upload_limit is None:
            upload_limit = UPLOAD_LIMIT_BY_TIER[premium_tier]
        guild = Guild(
            self,
            id=guild_id if guild_id is not None else self.snowflakes.next(),
            name=name,
            premium_tier=premium_tier,
            upload_limit=upload_limit,
            locale=locale,
            everyone_permissions=everyone_permissions,
            bot_permissions=bot_permissions,
        )
        self.guilds.append(guild)
        self.emit(guild, "GUILD_CREATE", {})
        return guild

    def get_guild(self, guild_id: int) -> Guild | None:
        return next((g for g in self.guilds if g.id == guild_id), None)

    def add_place(self, kind: str, name: str, *, bot_present: bool) -> Guild:
        """A place outside the bot's servers, modelled as a hidden guild with one channel:
        a server without the bot (``"server"``), the bot's DM (``"bot_dm"``) or a group DM
        (``"group_dm"``). It is never announced on the gateway."""
        place = Guild(
            self,
            id=self.snowflakes.next(),
            name=name,
            premium_tier=0,
            upload_limit=UPLOAD_LIMIT_BY_TIER[0],
            locale="en-US",
            everyone_permissions=Permission.DEFAULT_EVERYONE,
            bot_permissions=Permission.DEFAULT_BOT,
        )
        place.kind = kind
        place.bot_present = bot_present
        self.places.append(place)
        return place

    def get_channel(self, channel_id: int) -> Channel | None:
        for guild in [*self.guilds, *self.places]:
            channel = guild.get_channel(channel_id)
            if channel is not None:
                return channel
        return None

    def application_payload(self) -> JSON:
        return {
            "id": str(self.application_id),
            "name": self.application_name,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "hook": True,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": self.application_flags,
            "owner": self.owner.payload(),
            "team": None,
            "bot": self.bot_user.payload(),
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(self.guilds),
            "integration_types_config": {"0": {}},
            "tags": [],
        }

    def bot_user_payload(self) -> JSON:
        data = self.bot_user.payload()
        data.update(
            {"verified": True, "mfa_enabled": False, "flags": 0, "email": None, "locale": "en-US"}
        )
        return data


def _make_token(user_id: int) -> str:
    """A token shaped like Discord's: base64(user id) . timestamp part . HMAC part."""
    head = base64.urlsafe_b64encode(str(user_id).encode()).decode().rstrip("=")
    return f"{head}.{secrets.token_urlsafe(4)}.{secrets.token_urlsafe(28)}"
