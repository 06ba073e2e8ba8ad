"""A local Discord for tests: the real, unmodified discord.py talks to it over HTTP and a websocket.

The emulator enforces the rules real Discord enforces (3 s to acknowledge an
interaction, 15 min of token life, message/embed/component/modal limits, upload
sizes, strict command validation, channel permissions) and answers with Discord's
status codes and JSON error codes, so a test that passes here exercises the same
failure paths the bot meets in production. Nothing in it imports discord.py: it
speaks JSON, with permissions as plain ints (:class:`Permission`).

Usage (inside an async test)::

    import discord
    from discord.ext import commands

    from bot.discord_endpoint import use_discord_api_base
    from tests.emulators.discord import DiscordEmulator, Permission

    emu = DiscordEmulator()
    guild = emu.add_guild("Test Server")                    # 10 MiB uploads by default
    general = guild.add_channel("general")
    lounge = guild.add_channel("lounge", nsfw=True)
    mods = guild.add_role("Mods", permissions=Permission.MANAGE_GUILD)
    alice = guild.add_member("alice", roles=[mods])
    general.set_permissions(guild.me, deny=Permission.ATTACH_FILES)  # bot can't upload here

    async with emu:                                          # or: base = await emu.start()
        use_discord_api_base(emu.base_url)
        bot = commands.AutoShardedBot(
            command_prefix="!", intents=discord.Intents.default(),
            guild_ready_timeout=0.1,  # on_ready waits this long after the last GUILD_CREATE
        )
        ...  # add commands; sync them in setup_hook
        task = asyncio.create_task(bot.start(emu.bot_token))
        await bot.wait_until_ready()
        await emu.wait_until_commands_synced()               # global; guild=... for guild ones

        it = await emu.run_slash_command(alice, lounge, "imagine", prompt="a red fox", count=2)
        await it.acknowledged(timeout=5)                     # .ack_latency .response_type
        msg = await it.wait_for_original(lambda m: len(m.attachments) == 2)
        png = msg.attachments[0].data                        # exact bytes; .width/.height

        again = await emu.press_button(alice, msg, "imagine:again")
        opened = await emu.press_button(alice, msg, label="Edit prompt")
        form = await opened.wait_for_modal()                 # the ModalRecord the bot sent
        done = await emu.submit_modal(alice, form, {"Prompt": "a blue fox"})  # label or custom_id
        reply = await done.wait_for_original()               # reply.ephemeral, reply.content
        forged = await emu.press_forged_button(alice, msg, "imagine:again:-1")  # a hostile client
        # (submit_forged_modal likewise sends a dialog back under a custom id of its choosing)

        emu.clock.advance(15 * 60)                           # tokens expire without sleeping
        assert emu.interaction_failures == []                # nobody saw "This interaction failed"
        emu.assert_no_errors()                               # no 4xx answered, no unknown route
        await bot.close(); await task

Strictness a test can rely on: a late first callback gets 404 10062, a second one
400 40060, webhook use after 15 min 401 50027, ``@original`` before any response
404 10015, oversize files 413 40005, invalid bodies 400 50035 (``errors`` names the
field), empty messages 400 50006, missing channel permissions 403 50013. Tests can
inject 429s with :meth:`DiscordEmulator.inject_rate_limit`.

Modules: ``state`` (guilds, channels, roles, members), ``messages`` (stored messages),
``messaging`` (create/edit rules), ``validation`` (message/component/modal limits),
``commands`` (command validation and storage), ``invocations`` (what the client
sends for a member's action), ``interactions`` (records tests await),
``responses`` (callbacks and the interaction webhook), ``gateway``, ``rest``,
``ratelimit``, ``uploads``, ``clock``, ``server`` (this façade).
"""

from tests.emulators.discord.clock import EmulatorClock
from tests.emulators.discord.errors import ApiError, ClientRejected
from tests.emulators.discord.interactions import CallbackAttempt, InteractionRecord, ModalRecord
from tests.emulators.discord.invocations import Upload
from tests.emulators.discord.messages import Attachment, Message, MessageVersion
from tests.emulators.discord.permissions import Permission
from tests.emulators.discord.ratelimit import RateLimitServed
from tests.emulators.discord.rest import ServedRequest
from tests.emulators.discord.server import DiscordEmulator
from tests.emulators.discord.signals import WaitTimeout
from tests.emulators.discord.state import Channel, Guild, Member, Role, User

__all__ = [
    "ApiError",
    "Attachment",
    "CallbackAttempt",
    "Channel",
    "ClientRejected",
    "DiscordEmulator",
    "EmulatorClock",
    "Guild",
    "InteractionRecord",
    "Member",
    "Message",
    "MessageVersion",
    "ModalRecord",
    "Permission",
    "RateLimitServed",
    "Role",
    "ServedRequest",
    "Upload",
    "User",
    "WaitTimeout",
]
