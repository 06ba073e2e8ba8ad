"""The Discord emulator, driven by the real discord.py: a tiny bot plays every scenario.

Each test is a small user story ("alice runs /imagine and gets two images") or a
rule Discord enforces ("a response after 3 s gets 10062"), checked from both sides:
what the member sees in the emulator and what discord.py got back.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord
import pytest
import pytest_asyncio
from discord import app_commands
from discord.ext import commands
from PIL import Image

from bot.discord_endpoint import DISCORD_DEFAULT_API_BASE, use_discord_api_base
from tests.emulators.discord import (
    ClientRejected,
    DiscordEmulator,
    Guild,
    Member,
    Message,
    Permission,
    Upload,
)
from tests.emulators.discord.state import Channel

pytestmark = pytest.mark.asyncio(loop_scope="module")

ZLIB_SUFFIX = b"\x00\x00\xff\xff"


def png(color: str, size: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, format="PNG")
    return buffer.getvalue()


class PromptModal(discord.ui.Modal, title="Edit prompt"):
    prompt: discord.ui.TextInput[PromptModal] = discord.ui.TextInput(label="Prompt", max_length=200)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"New prompt: {self.prompt.value}", ephemeral=True)


class ResultView(discord.ui.View):
    @discord.ui.button(label="Again", custom_id="imagine:again")
    async def again(
        self, interaction: discord.Interaction, _: discord.ui.Button[ResultView]
    ) -> None:
        await interaction.response.edit_message(content="Again!", view=None)

    @discord.ui.button(label="Edit prompt", custom_id="imagine:edit")
    async def edit(
        self, interaction: discord.Interaction, _: discord.ui.Button[ResultView]
    ) -> None:
        await interaction.response.send_modal(PromptModal())


class TinyBot(commands.AutoShardedBot):
    """Just enough bot to exercise every path the real bot will take."""

    def __init__(self) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            guild_ready_timeout=0.05,
        )
        #: A test sets an event here before running a command that waits on it.
        self.gates: dict[str, asyncio.Event] = {}
        #: What a command's risky call raised (None when it succeeded), per command.
        self.outcomes: dict[str, asyncio.Queue[BaseException | None]] = {}
        self._add_commands()

    def outcome(self, name: str) -> asyncio.Queue[BaseException | None]:
        return self.outcomes.setdefault(name, asyncio.Queue())

    async def report(self, name: str, call: Any) -> None:
        try:
            await call
        except discord.HTTPException as exc:
            await self.outcome(name).put(exc)
        else:
            await self.outcome(name).put(None)

    async def setup_hook(self) -> None:
        await self.tree.sync()

    def _add_commands(self) -> None:
        tree, bot = self.tree, self

        @tree.command(description="Draw images from a prompt")
        @app_commands.describe(prompt="What to draw", count="How many images")
        @app_commands.choices(style=[app_commands.Choice(name="Photo", value="photo")])
        async def imagine(
            interaction: discord.Interaction,
            prompt: str,
            count: app_commands.Range[int, 1, 4] = 1,
            style: str = "photo",
        ) -> None:
            await interaction.response.defer(thinking=True)
            files = [
                discord.File(io.BytesIO(png(c)), f"{i}.png")
                for i, c in enumerate(["red", "blue"][:count])
            ]
            await interaction.edit_original_response(
                content=f"{count} {style} image(s) of {prompt}",
                attachments=files,
                view=ResultView(),
            )

        @tree.command(description="Answer privately")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong", ephemeral=True)

        @tree.command(description="Answers only when the test opens the gate")
        async def slow(interaction: discord.Interaction) -> None:
            await bot.gates["slow"].wait()
            await bot.report("slow", interaction.response.send_message("finally"))

        @tree.command(description="Answers twice")
        async def twice(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("first")
            # As if a second handler answered too: a fresh InteractionResponse does not
            # know about the first answer, so the request reaches "Discord".
            await bot.report(
                "twice", discord.InteractionResponse(interaction).send_message("second")
            )

        @tree.command(description="Defers, then follows up when the gate opens")
        async def later(interaction: discord.Interaction) -> None:
            await interaction.response.defer()
            await bot.gates["later"].wait()
            await bot.report("later", interaction.followup.send("done at last"))

        @tree.command(description="Uploads a file of the given size")
        async def upload(interaction: discord.Interaction, size: int) -> None:
            file = discord.File(io.BytesIO(b"x" * size), "big.bin")
            await bot.report("upload", interaction.response.send_message(file=file))

        @tree.command(description="Sends a message of the given length")
        async def shout(interaction: discord.Interaction, length: int) -> None:
            await bot.report("shout", interaction.response.send_message("A" * length))

        @tree.command(description="Describes an uploaded image")
        async def describe(interaction: discord.Interaction, image: discord.Attachment) -> None:
            data = await image.read()
            await interaction.response.send_message(
                f"{image.filename}: {image.width}x{image.height}, "
                f"{len(data)} bytes, {image.content_type}"
            )

        @tree.command(description="Posts two images, then swaps the first for a new one")
        async def gallery(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("Gallery coming up.", ephemeral=True)
            assert isinstance(interaction.channel, discord.TextChannel)
            red, blue = (discord.File(io.BytesIO(png(c)), f"{c}.png") for c in ("red", "blue"))
            message = await interaction.channel.send("Gallery", files=[red, blue])
            green = discord.File(io.BytesIO(png("green")), "green.png")
            await bot.report("gallery", message.edit(attachments=[message.attachments[1], green]))

        @tree.command(description="Posts in the channel as the bot")
        async def say(interaction: discord.Interaction, text: str) -> None:
            await interaction.response.defer(ephemeral=True)
            assert isinstance(interaction.channel, discord.TextChannel)
            await bot.report("say", interaction.channel.send(text))
            await interaction.followup.send("Posted.", ephemeral=True)

        quota = app_commands.Group(
            name="quota",
            description="Manage image quotas",
            default_permissions=discord.Permissions(manage_guild=True),
        )

        @quota.command(name="set-user", description="Set a member's daily limit")
        async def set_user(
            interaction: discord.Interaction,
            member: discord.Member,
            limit: app_commands.Range[int, 0, 100],
        ) -> None:
            await interaction.response.send_message(
                f"{member.display_name} may now draw {limit} images a day."
            )

        tree.add_command(quota)

        async def suggest(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            count = 30 if current.startswith("many") else 3
            choices = [
                app_commands.Choice(name=f"{current or 'colour'} {i}", value=f"c{i}")
                for i in range(count)
            ]
            await bot.report("paint", interaction.response.autocomplete(choices))
            return []  # answered above, so the outcome (or error) is the test's to see

        @tree.command(description="Paints in a colour the client suggests")
        @app_commands.autocomplete(colour=suggest)
        async def paint(interaction: discord.Interaction, colour: str, size: int = 1) -> None:
            await interaction.response.send_message(f"Painted {colour} ({size})", ephemeral=True)

        @tree.context_menu(name="Quote this")
        async def quote(interaction: discord.Interaction, message: discord.Message) -> None:
            await interaction.response.send_message(
                f"{message.author.name} said: {message.content}", ephemeral=True
            )


@dataclass
class Scene:
    emu: DiscordEmulator
    bot: TinyBot
    guild: Guild
    general: Channel
    lounge: Channel
    alice: Member
    bob: Member


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def scene() -> AsyncIterator[Scene]:
    emu = DiscordEmulator()
    guild = emu.add_guild("Test Server")
    general = guild.add_channel("general")
    lounge = guild.add_channel("lounge", nsfw=True)
    mods = guild.add_role("Mods", permissions=Permission.MANAGE_GUILD)
    alice = guild.add_member("alice", roles=[mods])
    bob = guild.add_member("bob")
    await emu.start()
    use_discord_api_base(emu.base_url)
    bot = TinyBot()
    task = asyncio.create_task(bot.start(emu.bot_token))
    await asyncio.wait_for(bot.wait_until_ready(), timeout=10)
    await emu.wait_until_commands_synced()
    yield Scene(emu, bot, guild, general, lounge, alice, bob)
    await bot.close()
    await task
    await emu.stop()
    use_discord_api_base(DISCORD_DEFAULT_API_BASE)


@pytest.fixture(autouse=True)
def fresh_records(scene: Scene) -> None:
    """Each test judges only the requests made during it."""
    scene.emu.clear_records()


async def next_outcome(bot: TinyBot, name: str) -> BaseException | None:
    return await asyncio.wait_for(bot.outcome(name).get(), timeout=5)


# -- connecting -------------------------------------------------------------------------------


async def test_bot_sees_the_server_its_channels_and_the_nsfw_flag(scene: Scene) -> None:
    guild = scene.bot.get_guild(scene.guild.id)
    assert guild is not None
    channels = {c.name: c for c in guild.text_channels}
    assert set(channels) == {"general", "lounge"}
    assert channels["lounge"].is_nsfw() and not channels["general"].is_nsfw()
    assert guild.me is not None and guild.member_count == 3
    assert scene.bot.application_id == scene.emu.application_id
    conn = scene.emu.gateway.ready_connections()[0]
    assert conn.compress and conn.shard == (0, 1)


async def test_a_wrong_token_fails_fast(scene: Scene) -> None:
    intruder = discord.AutoShardedClient(intents=discord.Intents.default())
    with pytest.raises(discord.LoginFailure):
        await asyncio.wait_for(intruder.login("not-the-token"), timeout=5)
    await intruder.close()
    assert scene.emu.requests[-1].status == 401


async def raw_gateway(url: str) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse]:
    session = aiohttp.ClientSession()
    return session, await session.ws_connect(url)


@pytest.mark.parametrize("compress", [True, False], ids=["zlib-stream", "plain-text"])
async def test_gateway_speaks_zlib_stream_and_plain_text(scene: Scene, compress: bool) -> None:
    query = "?v=10&encoding=json" + ("&compress=zlib-stream" if compress else "")
    session, ws = await raw_gateway(scene.emu.gateway_url + query)
    inflator = zlib.decompressobj()

    async def receive() -> dict[str, Any]:
        msg = await ws.receive(timeout=5)
        if compress:
            assert msg.type == aiohttp.WSMsgType.BINARY and msg.data.endswith(ZLIB_SUFFIX)
            frame: dict[str, Any] = json.loads(inflator.decompress(msg.data))
            return frame
        assert msg.type == aiohttp.WSMsgType.TEXT
        plain: dict[str, Any] = json.loads(msg.data)
        return plain

    try:
        hello = await receive()
        assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] == 41250
        await ws.send_json({"op": 1, "d": None})
        assert (await receive())["op"] == 11
        identify = {
            "token": scene.emu.bot_token,
            "intents": 513,
            "properties": {"os": "linux"},
            "shard": [0, 1],
        }
        await ws.send_json({"op": 2, "d": identify})
        ready, guild_create = await receive(), await receive()
        assert (ready["t"], ready["s"]) == ("READY", 1)
        assert ready["d"]["resume_gateway_url"] == scene.emu.gateway_url
        assert ready["d"]["guilds"] == [{"id": str(scene.guild.id), "unavailable": True}]
        assert (guild_create["t"], guild_create["s"]) == ("GUILD_CREATE", 2)
        lounge = next(c for c in guild_create["d"]["channels"] if c["name"] == "lounge")
        assert lounge["nsfw"] is True
        # Without GUILD_MEMBERS only the bot's own member is sent.
        assert [m["user"]["id"] for m in guild_create["d"]["members"]] == [
            str(scene.emu.application_id)
        ]
    finally:
        await ws.close()
        await session.close()


@pytest.mark.parametrize(
    ("query", "identify", "close_code"),
    [
        ("?v=10&encoding=json&compress=zstd-stream", None, 4012),
        ("?v=10&encoding=etf", None, 4012),
        ("?v=10&encoding=json", {"token": "wrong", "intents": 513, "properties": {}}, 4004),
        ("?v=10&encoding=json", {"token": "<bot>", "intents": 1 << 15, "properties": {}}, 4014),
        ("?v=10&encoding=json", {"token": "<bot>", "properties": {}}, 4013),
        (
            "?v=10&encoding=json",
            {"token": "<bot>", "intents": 1, "properties": {}, "shard": [2, 2]},
            4010,
        ),
    ],
    ids=["zstd", "etf", "bad-token", "privileged-intent", "no-intents", "bad-shard"],
)
async def test_gateway_refuses_what_discord_refuses(
    scene: Scene, query: str, identify: dict[str, Any] | None, close_code: int
) -> None:
    session, ws = await raw_gateway(scene.emu.gateway_url + query)
    try:
        if identify is not None:
            assert json.loads((await ws.receive(timeout=5)).data)["op"] == 10
            if identify["token"] == "<bot>":
                identify["token"] = scene.emu.bot_token
            await ws.send_json({"op": 2, "d": identify})
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == close_code
    finally:
        await ws.close()
        await session.close()


async def test_each_shard_gets_only_its_guilds_and_their_interactions() -> None:
    emu = DiscordEmulator(shards=2)
    even = emu.add_guild("Even", guild_id=(1 << 22) * 1000)
    odd = emu.add_guild("Odd", guild_id=(1 << 22) * 1001)
    carol = odd.add_member("carol")
    odd_channel = odd.add_channel("general")
    async with emu:
        sessions = []
        try:
            ready: dict[int, dict[str, Any]] = {}
            sockets = []
            for shard in (0, 1):
                session, ws = await raw_gateway(emu.gateway_url + "?v=10&encoding=json")
                sessions.append(session)
                sockets.append(ws)
                await ws.receive(timeout=5)
                await ws.send_json(
                    {
                        "op": 2,
                        "d": {
                            "token": emu.bot_token,
                            "intents": 513,
                            "properties": {},
                            "shard": [shard, 2],
                        },
                    }
                )
                ready[shard] = json.loads((await ws.receive(timeout=5)).data)["d"]
                await ws.receive(timeout=5)  # its one GUILD_CREATE
            assert [g["id"] for g in ready[0]["guilds"]] == [str(even.id)]
            assert [g["id"] for g in ready[1]["guilds"]] == [str(odd.id)]
            # Fake a synced command so carol can run it; the interaction goes to shard 1 only.
            emu.commands.bulk_overwrite(None, [{"name": "ping", "description": "Ping", "type": 1}])
            await emu.run_slash_command(carol, odd_channel, "ping")
            event = json.loads((await sockets[1].receive(timeout=5)).data)
            assert event["t"] == "INTERACTION_CREATE" and event["d"]["guild_id"] == str(odd.id)
            seqs = {c.shard: c.session.seq for c in emu.gateway.ready_connections() if c.session}
            assert seqs == {(0, 2): 2, (1, 2): 3}  # shard 0 got READY and GUILD_CREATE only
            for ws in sockets:
                await ws.close()
        finally:
            for session in sessions:
                await session.close()


async def test_the_bot_resumes_after_the_connection_drops(scene: Scene) -> None:
    emu = scene.emu
    resumed = asyncio.Event()

    async def on_shard_resumed(shard_id: int) -> None:
        resumed.set()

    scene.bot.add_listener(on_shard_resumed)
    await emu.drop_gateway_connections(4000)
    await asyncio.wait_for(resumed.wait(), timeout=10)
    scene.bot.remove_listener(on_shard_resumed)
    assert emu.gateway.resume_count == 1
    it = await emu.run_slash_command(scene.alice, scene.general, "ping")
    assert (await it.acknowledged()).response_type == 4


# -- commands ---------------------------------------------------------------------------------


async def test_commands_are_stored_with_ids_as_discord_returns_them(scene: Scene) -> None:
    synced = {c["name"]: c for c in await scene.emu.wait_until_commands_synced()}
    assert {"imagine", "ping", "quota", "slow", "say"} <= set(synced)
    imagine = synced["imagine"]
    assert int(imagine["id"]) > 0 and imagine["application_id"] == str(scene.emu.application_id)
    count = next(o for o in imagine["options"] if o["name"] == "count")
    assert (count["min_value"], count["max_value"], count["required"]) == (1, 4, False)
    assert synced["quota"]["default_member_permissions"] == str(Permission.MANAGE_GUILD)


async def test_localizations_are_stored_as_sent_and_read_back(scene: Scene) -> None:
    emu = scene.emu
    command = valid_command(
        name="localized",  # not /imagine: a server copy of it would shadow the global one
        description_localizations={"de": "Zeichnen", "pt-BR": "Desenhar"},
        name_localizations=None,
    )
    command["options"][0]["description_localizations"] = {"ja": "何を"}
    command["options"][1]["choices"] = [
        {"name": "one", "value": 1, "name_localizations": {"fr": "un"}}
    ]
    url = f"{emu.base_url}/applications/{emu.application_id}/guilds/{scene.guild.id}/commands"
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.put(url, json=[command], headers=headers) as resp,
    ):
        assert resp.status == 200, await resp.text()
    try:
        (stored,) = emu.commands_for(scene.guild)
        assert stored["description_localizations"] == {"de": "Zeichnen", "pt-BR": "Desenhar"}
        prompt, count = stored["options"]
        assert prompt["description_localizations"] == {"ja": "何を"}
        assert count["choices"][0]["name_localizations"] == {"fr": "un"}
    finally:
        emu.commands.bulk_overwrite(scene.guild.id, [])


def valid_command(**changes: Any) -> dict[str, Any]:
    command: dict[str, Any] = {
        "name": "imagine",
        "description": "Draw",
        "type": 1,
        "options": [
            {"type": 3, "name": "prompt", "description": "What", "required": True},
            {"type": 4, "name": "count", "description": "How many", "required": False},
        ],
    }
    command.update(changes)
    return command


def big_option(index: int) -> dict[str, Any]:
    """About 5000 characters: 25 choices with 100-character names and values."""
    choices = [{"name": f"{i:02d}" + "n" * 98, "value": f"{i:02d}" + "v" * 98} for i in range(25)]
    return {"type": 3, "name": f"o{index}", "description": "d" * 100, "choices": choices}


def with_option(index: int, **changes: Any) -> dict[str, Any]:
    command = valid_command()
    command["options"][index].update(changes)
    return command


def localized_choices_option(index: int) -> dict[str, Any]:
    """About 2600 characters by default, about 5000 in German: long localized choice names."""
    choices = [
        {"name": f"c{i}", "value": f"{i:02d}" + "v" * 98, "name_localizations": {"de": "n" * 100}}
        for i in range(25)
    ]
    return {"type": 3, "name": f"o{index}", "description": "d", "choices": choices}


@pytest.mark.parametrize(
    ("payload", "path", "code"),
    [
        (
            [with_option(1, description="")],
            ["0", "options", "1", "description"],
            "BASE_TYPE_BAD_LENGTH",
        ),
        ([valid_command(name="Imagine")], ["0", "name"], "APPLICATION_COMMAND_INVALID_NAME"),
        ([valid_command(name="x" * 33)], ["0", "name"], "BASE_TYPE_BAD_LENGTH"),
        ([valid_command(description="d" * 101)], ["0", "description"], "BASE_TYPE_BAD_LENGTH"),
        (
            [valid_command(options=list(reversed(valid_command()["options"])))],
            ["0", "options", "1", "required"],
            "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
        ),
        ([with_option(1, min_value=2**53)], ["0", "options", "1", "min_value"], "NUMBER_TYPE_MAX"),
        ([with_option(0, max_length=6001)], ["0", "options", "0", "max_length"], "NUMBER_TYPE_MAX"),
        (
            [with_option(1, choices=[{"name": "one", "value": "1"}])],
            ["0", "options", "1", "choices", "0", "value"],
            "NUMBER_TYPE_COERCE",
        ),
        (
            [with_option(0, choices=[{"name": f"c{i}", "value": f"v{i}"} for i in range(26)])],
            ["0", "options", "0", "choices"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        ([with_option(1, type=12)], ["0", "options", "1", "type"], "BASE_TYPE_CHOICES"),
        ([valid_command(), valid_command()], ["1", "name"], "APPLICATION_COMMANDS_DUPLICATE_NAME"),
        (
            [
                valid_command(
                    options=[
                        {
                            "type": 2,
                            "name": "group",
                            "description": "g",
                            "options": [
                                {"type": 2, "name": "inner", "description": "i", "options": []}
                            ],
                        }
                    ]
                )
            ],
            ["0", "options", "0", "options", "0", "type"],
            "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
        ),
        (
            [valid_command(options=[big_option(0), big_option(1)])],
            ["0", "_errors"],
            "APPLICATION_COMMAND_TOO_LARGE",
        ),
        (
            [valid_command(name=f"c{i}") for i in range(101)],
            ["_errors"],
            "APPLICATION_COMMANDS_MAX_EXCEEDED",
        ),
        (
            [{"type": 3, "name": " Quote  this"}],
            ["0", "name"],
            "APPLICATION_COMMAND_INVALID_NAME",
        ),
        (
            [{"type": 3, "name": "Quote this", "description": "no"}],
            ["0", "description"],
            "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
        ),
        (
            [{"type": 3, "name": "A message command name over 32 chars"}],
            ["0", "name"],
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            [valid_command(description_localizations={"de-DE": "Zeichnen"})],
            ["0", "description_localizations", "de-DE"],
            "BASE_TYPE_CHOICES",
        ),
        (
            [valid_command(description_localizations={"fr": "d" * 101})],
            ["0", "description_localizations", "fr"],
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            [valid_command(name_localizations={"de": "Zeichnen"})],
            ["0", "name_localizations", "de"],
            "APPLICATION_COMMAND_INVALID_NAME",
        ),
        (
            [with_option(0, description_localizations={"ja": ""})],
            ["0", "options", "0", "description_localizations", "ja"],
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            [
                with_option(
                    0, choices=[{"name": "one", "value": "1", "name_localizations": {"es-ES": ""}}]
                )
            ],
            ["0", "options", "0", "choices", "0", "name_localizations", "es-ES"],
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            [
                valid_command(
                    options=[
                        {
                            "type": 3,
                            "name": "a",
                            "description": "a",
                            "name_localizations": {"fr": "x"},
                        },
                        {
                            "type": 3,
                            "name": "b",
                            "description": "b",
                            "name_localizations": {"fr": "x"},
                        },
                    ]
                )
            ],
            ["0", "options", "1", "name_localizations", "fr"],
            "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS",
        ),
        (
            [valid_command(options=[localized_choices_option(0), localized_choices_option(1)])],
            ["0", "_errors"],
            "APPLICATION_COMMAND_TOO_LARGE",
        ),
        (
            [{"type": 3, "name": "Quote this", "description_localizations": {"de": "Zitieren"}}],
            ["0", "description"],
            "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
        ),
    ],
    ids=[
        "empty-option-description",
        "uppercase-name",
        "long-name",
        "long-description",
        "required-after-optional",
        "min-value-beyond-2^53",
        "max-length-over-6000",
        "choice-type-mismatch",
        "26-choices",
        "unknown-option-type",
        "duplicate-names",
        "group-in-group",
        "over-8000-chars",
        "101-commands",
        "context-menu-spaces",
        "context-menu-description",
        "context-menu-long-name",
        "unknown-locale",
        "long-localized-description",
        "localized-name-breaks-name-rules",
        "empty-localized-option-description",
        "empty-localized-choice-name",
        "localized-option-names-collide",
        "over-8000-chars-in-one-locale",
        "context-menu-localized-description",
    ],
)
async def test_invalid_command_definitions_get_50035_naming_the_field(
    scene: Scene, payload: list[dict[str, Any]], path: list[str], code: str
) -> None:
    emu = scene.emu
    url = f"{emu.base_url}/applications/{emu.application_id}/guilds/{scene.guild.id}/commands"
    headers = {"Authorization": f"Bot {scene.emu.bot_token}"}
    before = scene.emu.commands_for(scene.guild)
    async with (
        aiohttp.ClientSession() as session,
        session.put(url, json=payload, headers=headers) as resp,
    ):
        body = await resp.json()
    assert resp.status == 400
    assert (body["code"], body["message"]) == (50035, "Invalid Form Body")
    node = body["errors"]
    for key in path:
        node = node[key]
    errors = node if isinstance(node, list) else node["_errors"]
    assert code in [e["code"] for e in errors], body
    assert scene.emu.commands_for(scene.guild) == before  # nothing was stored


async def test_bot_routes_need_the_token_and_unknown_routes_are_noticed(scene: Scene) -> None:
    emu = scene.emu
    commands_url = f"{emu.base_url}/applications/{emu.application_id}/commands"
    pins_url = f"{emu.base_url}/channels/{scene.general.id}/pins"
    async with aiohttp.ClientSession() as session:
        async with session.get(commands_url, headers={"Authorization": "Bot nope"}) as resp:
            assert resp.status == 401
            assert await resp.json() == {"message": "401: Unauthorized", "code": 0}
            assert "X-RateLimit-Bucket" in resp.headers
        async with session.get(pins_url, headers={"Authorization": f"Bot {emu.bot_token}"}) as resp:
            assert (resp.status, (await resp.json())["code"]) == (404, 0)
    assert emu.unknown_routes == [f"GET /api/v10/channels/{scene.general.id}/pins"]
    assert emu.invalid_request_count == 1
    with pytest.raises(AssertionError, match="unknown route"):
        emu.assert_no_errors()


async def test_the_bot_token_reaches_nothing_where_only_a_user_installed_the_app(
    scene: Scene,
) -> None:
    """Group DMs and servers without the bot: 403 50001, counted toward the ban; the
    bot's own DM is reachable. None of these places is announced on the gateway."""
    emu = scene.emu
    emu.install_for_user(scene.alice)
    _, group = emu.group_dm(scene.alice, scene.bob)
    _, elsewhere = emu.server_without_bot(scene.alice)
    _, dm = emu.dm_with_bot(scene.alice)
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    before = emu.invalid_request_count
    async with aiohttp.ClientSession() as session:
        for channel in (group, elsewhere):
            async with session.get(f"{emu.base_url}/channels/{channel.id}", headers=headers) as r:
                assert (r.status, (await r.json())["code"]) == (403, 50001)
        async with session.get(f"{emu.base_url}/channels/{dm.id}", headers=headers) as r:
            assert r.status == 200
    assert emu.invalid_request_count == before + 2
    assert scene.bot.get_guild(elsewhere.guild.id) is None, "READY never listed it"
    emu.clear_records()


async def test_a_server_install_alone_offers_nothing_in_group_dms(scene: Scene) -> None:
    """Without ``integration_types`` a command is a server install's: a group DM (where
    only a user install can be) never offers it, even to someone who installed the app."""
    emu = scene.emu
    emu.install_for_user(scene.bob)
    bob, group = emu.group_dm(scene.bob)
    with pytest.raises(ClientRejected, match="integration_types"):
        await emu.run_slash_command(bob, group, "ping")


async def test_a_mod_sets_a_quota_with_a_subcommand_and_member_option(scene: Scene) -> None:
    it = await scene.emu.run_slash_command(
        scene.alice, scene.general, "quota set-user", member=scene.bob, limit=3
    )
    reply = await it.wait_for_original()
    assert reply.content == "bob may now draw 3 images a day."
    assert it.response_type == 4 and not it.ephemeral
    option_tree = it.payload["data"]["options"][0]
    assert option_tree["name"] == "set-user" and option_tree["type"] == 1
    assert it.payload["data"]["resolved"]["members"][str(scene.bob.id)]["roles"] == []


@pytest.mark.parametrize(
    ("who", "words", "options", "complaint"),
    [
        ("alice", ["quota", "set-user"], {"member": "bob", "limit": 101}, "above max_value"),
        ("alice", ["quota", "set-user"], {"member": "bob"}, "required option 'limit'"),
        (
            "alice",
            ["quota", "set-user"],
            {"member": "bob", "limit": 1, "colour": "red"},
            "no option 'colour'",
        ),
        ("alice", ["quota"], {}, "needs a subcommand"),
        ("bob", ["quota", "set-user"], {"member": "bob", "limit": 1}, "hidden from bob"),
        ("alice", ["imagine"], {"prompt": "fox", "style": "watercolour"}, "not one of the choices"),
        ("alice", ["imagine"], {"prompt": 42}, "not text"),
        ("alice", ["draw"], {}, "not synced"),
    ],
)
async def test_the_client_refuses_what_a_user_could_never_send(
    scene: Scene, who: str, words: list[str], options: dict[str, Any], complaint: str
) -> None:
    members = {"alice": scene.alice, "bob": scene.bob}
    resolved = {k: members.get(v, v) if isinstance(v, str) else v for k, v in options.items()}
    sent_before = len(scene.emu.interactions)
    with pytest.raises(ClientRejected, match=complaint):
        await scene.emu.run_slash_command(members[who], scene.general, *words, options=resolved)
    assert len(scene.emu.interactions) == sent_before


# -- responses --------------------------------------------------------------------------------


async def test_deferred_imagine_is_edited_into_two_images(scene: Scene) -> None:
    emu = scene.emu
    it = await emu.run_slash_command(
        scene.alice, scene.lounge, "imagine", prompt="a red fox", count=2
    )
    await it.acknowledged()
    assert it.response_type == 5 and it.ack_latency is not None and it.ack_latency < 3
    msg = await it.wait_for_original(lambda m: len(m.attachments) == 2)
    assert msg.content == "2 photo image(s) of a red fox"
    assert msg.history[0].flags & 128  # it was "thinking..." before the edit
    first = msg.attachments[0]
    assert (first.filename, first.content_type, first.width, first.height) == (
        "0.png",
        "image/png",
        8,
        8,
    )
    async with aiohttp.ClientSession() as session, session.get(first.url) as resp:
        assert await resp.read() == first.data == png("red")
    assert [b["label"] for b in msg.buttons] == ["Again", "Edit prompt"]
    assert it not in emu.interaction_failures


async def test_ephemeral_reply_is_seen_only_by_the_user(scene: Scene) -> None:
    it = await scene.emu.run_slash_command(scene.bob, scene.general, "ping")
    msg = await it.wait_for_original()
    assert msg.ephemeral and it.ephemeral and msg.visible_to == scene.bob.id
    with pytest.raises(ClientRejected):
        await scene.emu.press_button(scene.alice, msg, "anything")


async def test_a_response_after_three_seconds_gets_10062(scene: Scene) -> None:
    emu, bot = scene.emu, scene.bot
    bot.gates["slow"] = gate = asyncio.Event()
    it = await emu.run_slash_command(scene.alice, scene.general, "slow")
    emu.clock.advance(3.5)
    gate.set()
    attempt = await it.wait_for_callback()
    assert (attempt.status, attempt.code) == (404, 10062)
    error = await next_outcome(bot, "slow")
    assert isinstance(error, discord.NotFound) and error.code == 10062
    assert it in emu.interaction_failures and it.failed


async def test_a_second_initial_response_gets_40060(scene: Scene) -> None:
    it = await scene.emu.run_slash_command(scene.alice, scene.general, "twice")
    error = await next_outcome(scene.bot, "twice")
    assert isinstance(error, discord.HTTPException) and (error.status, error.code) == (400, 40060)
    assert (await it.wait_for_original()).content == "first"
    assert [a.code for a in it.callback_attempts] == [None, 40060]


async def test_followups_after_fifteen_minutes_get_50027(scene: Scene) -> None:
    emu, bot = scene.emu, scene.bot
    bot.gates["later"] = gate = asyncio.Event()
    it = await emu.run_slash_command(scene.alice, scene.general, "later")
    await it.acknowledged()
    emu.clock.advance(15 * 60 + 1)
    gate.set()
    error = await next_outcome(bot, "later")
    assert isinstance(error, discord.HTTPException) and (error.status, error.code) == (401, 50027)
    assert it.original is not None and it.original.loading  # the user is left with "thinking..."


async def test_editing_the_original_before_any_response_gets_10015(scene: Scene) -> None:
    emu, bot = scene.emu, scene.bot
    bot.gates["slow"] = gate = asyncio.Event()
    it = await emu.run_slash_command(scene.alice, scene.general, "slow")
    url = f"{emu.base_url}/webhooks/{emu.application_id}/{it.token}/messages/@original"
    async with (
        aiohttp.ClientSession() as session,
        session.patch(url, json={"content": "early"}) as resp,
    ):
        assert resp.status == 404
        assert await resp.json() == {"message": "Unknown Webhook", "code": 10015}
    gate.set()
    assert await next_outcome(bot, "slow") is None


async def test_a_file_over_the_interaction_limit_gets_40005(scene: Scene) -> None:
    limit = 10 * 1024 * 1024
    it = await scene.emu.run_slash_command(scene.alice, scene.general, "upload", size=limit + 1)
    error = await next_outcome(scene.bot, "upload")
    assert isinstance(error, discord.HTTPException) and (error.status, error.code) == (413, 40005)
    assert it.payload["attachment_size_limit"] == limit and it.original is None


async def test_content_over_2000_characters_gets_50035(scene: Scene) -> None:
    await scene.emu.run_slash_command(scene.alice, scene.general, "shout", length=2001)
    error = await next_outcome(scene.bot, "shout")
    assert isinstance(error, discord.HTTPException) and (error.status, error.code) == (400, 50035)
    assert scene.emu.errors[-1].errors == {
        "data": {
            "content": {
                "_errors": [
                    {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
                ]
            }
        }
    }
    await scene.emu.run_slash_command(scene.alice, scene.general, "shout", length=2000)
    assert await next_outcome(scene.bot, "shout") is None


async def test_discord_py_waits_out_an_injected_429(scene: Scene) -> None:
    emu = scene.emu
    emu.inject_rate_limit("POST /api/v10/channels/", retry_after=0.05)
    await emu.run_slash_command(scene.alice, scene.general, "say", text="hello channel")
    assert await next_outcome(scene.bot, "say") is None
    posted = await emu.wait_for_message(scene.general, lambda m: m.content == "hello channel")
    assert posted.author_id == emu.application_id and posted.webhook_id is None
    assert emu.rate_limited_count == 1 and emu.rate_limits_served[0].retry_after == 0.05
    assert emu.errors == []


async def test_posting_without_send_messages_gets_50013(scene: Scene) -> None:
    guild, general = scene.guild, scene.general
    general.set_permissions(guild.me, deny=Permission.SEND_MESSAGES)
    try:
        await scene.emu.run_slash_command(scene.alice, general, "say", text="muted")
        error = await next_outcome(scene.bot, "say")
        assert isinstance(error, discord.Forbidden) and error.code == 50013
    finally:
        general.set_permissions(guild.me)


async def test_buttons_and_the_modal_round_trip(scene: Scene) -> None:
    emu = scene.emu
    it = await emu.run_slash_command(scene.alice, scene.general, "imagine", prompt="a fox")
    result: Message = await it.wait_for_original(lambda m: bool(m.buttons))

    opened = await emu.press_button(scene.alice, result, label="Edit prompt")
    modal = await opened.wait_for_modal()
    assert modal.title == "Edit prompt" and opened.response_type == 9
    with pytest.raises(ClientRejected, match="only alice"):
        await emu.submit_modal(scene.bob, opened, {"Prompt": "mine"})
    submitted = await emu.submit_modal(scene.alice, opened, {"Prompt": "a blue fox"})
    reply = await submitted.wait_for_original()
    assert reply.content == "New prompt: a blue fox" and reply.ephemeral

    again = await emu.press_button(scene.alice, result, "imagine:again")
    await again.acknowledged()
    assert again.response_type == 7 and result.content == "Again!" and result.components == []
    with pytest.raises(ClientRejected, match="no button"):
        await emu.press_button(scene.alice, result, "imagine:again")
    emu.assert_no_errors()


async def test_members_can_attach_files_to_slash_options(scene: Scene) -> None:
    image = png("white", size=16)
    it = await scene.emu.run_slash_command(
        scene.alice, scene.general, "describe", image=Upload("cat.png", image)
    )
    reply = await it.wait_for_original()
    # The bot read the bytes back from the emulator's attachment URL.
    assert reply.content == f"cat.png: 16x16, {len(image)} bytes, image/png"
    too_big = Upload("huge.png", b"x" * (scene.guild.upload_limit + 1))
    with pytest.raises(ClientRejected, match="allows"):
        await scene.emu.run_slash_command(scene.alice, scene.general, "describe", image=too_big)


async def test_the_first_followup_after_a_defer_replaces_the_thinking_message(scene: Scene) -> None:
    scene.bot.gates["later"] = gate = asyncio.Event()
    gate.set()
    it = await scene.emu.run_slash_command(scene.alice, scene.general, "later")
    followup = await it.wait_for_followup()
    assert await next_outcome(scene.bot, "later") is None
    # Discord resolves the loading message instead of posting a second one.
    assert followup is it.original and followup.content == "done at last" and not followup.loading
    assert followup.edits == 1 and it.messages == [followup]


async def test_editing_keeps_listed_attachments_and_adds_new_files(scene: Scene) -> None:
    await scene.emu.run_slash_command(scene.alice, scene.general, "gallery")
    assert await next_outcome(scene.bot, "gallery") is None
    message = await scene.emu.wait_for_message(scene.general, lambda m: m.content == "Gallery")
    assert [a.filename for a in message.attachments] == ["blue.png", "green.png"]
    assert message.history[0].attachment_names == ["red.png", "blue.png"]
    assert message.attachment("blue.png").data == png("blue")


def bot_headers(emu: DiscordEmulator) -> dict[str, str]:
    return {"Authorization": f"Bot {emu.bot_token}"}


def button(custom_id: str, label: str = "Go", style: int = 1) -> dict[str, Any]:
    return {"type": 2, "style": style, "label": label, "custom_id": custom_id}


def row(*components: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(components)}


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ({"content": "x" * 2001}, ["content"], "BASE_TYPE_MAX_LENGTH"),
        ({"embeds": [{"title": "t"}] * 11}, ["embeds"], "BASE_TYPE_MAX_LENGTH"),
        (
            {"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]},
            ["embeds"],
            "MAX_EMBED_SIZE_EXCEEDED",
        ),
        ({"embeds": [{"title": "t" * 257}]}, ["embeds", "0", "title"], "BASE_TYPE_MAX_LENGTH"),
        (
            {"embeds": [{"fields": [{"name": "n", "value": "v" * 1025}]}]},
            ["embeds", "0", "fields", "0", "value"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]},
            ["embeds", "0", "fields"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {"embeds": [{"footer": {"text": "f" * 2049}}]},
            ["embeds", "0", "footer", "text"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {"components": [row(button(f"b{i}")) for i in range(6)]},
            ["components"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {"components": [row(*(button(f"b{i}") for i in range(6)))]},
            ["components", "0", "components"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {"components": [row(button("same"), button("same"))]},
            ["components", "0", "components", "1", "custom_id"],
            "COMPONENT_CUSTOM_ID_DUPLICATED",
        ),
        (
            {"components": [row(button("x" * 101))]},
            ["components", "0", "components", "0", "custom_id"],
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            {"components": [row(button("b", label="l" * 81))]},
            ["components", "0", "components", "0", "label"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {
                "components": [
                    row(
                        {
                            "type": 2,
                            "style": 5,
                            "label": "Docs",
                            "url": "https://x.y",
                            "custom_id": "c",
                        }
                    )
                ]
            },
            ["components", "0", "components", "0", "custom_id"],
            "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
        ),
        (
            {"components": [row({"type": 2, "style": 1, "label": "No id"})]},
            ["components", "0", "components", "0", "custom_id"],
            "BASE_TYPE_REQUIRED",
        ),
    ],
    ids=[
        "content-2001",
        "11-embeds",
        "embeds-over-6000",
        "title-257",
        "field-value-1025",
        "26-fields",
        "footer-2049",
        "6-rows",
        "6-buttons-in-a-row",
        "duplicate-custom-id",
        "custom-id-101",
        "label-81",
        "link-button-with-custom-id",
        "button-without-custom-id",
    ],
)
async def test_channel_messages_breaking_limits_get_50035_naming_the_field(
    scene: Scene, body: dict[str, Any], path: list[str], code: str
) -> None:
    url = f"{scene.emu.base_url}/channels/{scene.general.id}/messages"
    posted_before = len(scene.emu.messages(scene.general))
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=bot_headers(scene.emu)) as resp,
    ):
        answer = await resp.json()
    assert (resp.status, answer["code"]) == (400, 50035)
    node = answer["errors"]
    for key in path:
        node = node[key]
    assert code in [e["code"] for e in node["_errors"]], answer
    assert len(scene.emu.messages(scene.general)) == posted_before


async def test_channel_routes_answer_like_discord(scene: Scene) -> None:
    emu = scene.emu
    base = f"{emu.base_url}/channels"
    async with aiohttp.ClientSession(headers=bot_headers(emu)) as session:
        async with session.post(
            f"{base}/{scene.general.id}/messages", json={"content": "  "}
        ) as resp:
            assert (resp.status, await resp.json()) == (
                400,
                {"message": "Cannot send an empty message", "code": 50006},
            )
        async with session.post(f"{base}/123/messages", json={"content": "hi"}) as resp:
            assert (resp.status, (await resp.json())["code"]) == (404, 10003)
        async with session.get(f"{base}/{scene.general.id}/messages/123") as resp:
            assert (resp.status, (await resp.json())["code"]) == (404, 10008)
        form = aiohttp.FormData(quote_fields=False)
        form.add_field("payload_json", json.dumps({"content": "big"}))
        form.add_field("files[0]", b"x" * (scene.guild.upload_limit + 1), filename="big.bin")
        async with session.post(f"{base}/{scene.general.id}/messages", data=form) as resp:
            assert (resp.status, await resp.json()) == (
                413,
                {"message": "Request entity too large", "code": 40005},
            )
        form = aiohttp.FormData(quote_fields=False)
        form.add_field(
            "payload_json",
            json.dumps({"content": "hello", "message_reference": {"message_id": "1"}}),
        )
        async with session.post(f"{base}/{scene.general.id}/messages", data=form) as resp:
            answer = await resp.json()
            assert (
                answer["errors"]["message_reference"]["_errors"][0]["code"]
                == "MESSAGE_REFERENCE_UNKNOWN_MESSAGE"
            )
    assert [(e.status, e.code) for e in emu.errors] == [
        (400, 50006),
        (404, 10003),
        (404, 10008),
        (413, 40005),
        (400, 50035),
    ]


@contextlib.asynccontextmanager
async def hand_driven_bot(emu: DiscordEmulator) -> AsyncIterator[None]:
    """A raw gateway session that takes over shard 0, so the test answers interactions itself."""
    session, ws = await raw_gateway(emu.gateway_url + "?v=10&encoding=json")
    try:
        await ws.receive(timeout=5)
        identify = {"token": emu.bot_token, "intents": 513, "properties": {}, "shard": [0, 1]}
        await ws.send_json({"op": 2, "d": identify})
        ready = json.loads((await ws.receive(timeout=5)).data)
        assert ready["t"] == "READY"
        yield
    finally:
        await ws.close()
        await session.close()


async def answer(
    emu: DiscordEmulator,
    interaction_id: int,
    token: str,
    body: dict[str, Any],
    query: str = "?with_response=true",
) -> tuple[int, Any]:
    url = f"{emu.base_url}/interactions/{interaction_id}/{token}/callback{query}"
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as resp:
        return resp.status, (await resp.json() if resp.status != 204 else None)


def text_input(custom_id: str = "prompt", label: str = "Prompt") -> dict[str, Any]:
    return {
        "type": 1,
        "components": [{"type": 4, "custom_id": custom_id, "style": 1, "label": label}],
    }


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        (
            {
                "type": 9,
                "data": {"custom_id": "m", "title": "t" * 46, "components": [text_input()]},
            },
            ["data", "title"],
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            {"type": 9, "data": {"custom_id": "m", "title": "Edit", "components": []}},
            ["data", "components"],
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            {
                "type": 9,
                "data": {
                    "custom_id": "m",
                    "title": "Edit",
                    "components": [text_input(f"i{i}") for i in range(6)],
                },
            },
            ["data", "components"],
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            {
                "type": 9,
                "data": {
                    "custom_id": "m",
                    "title": "Edit",
                    "components": [text_input("a"), text_input("a")],
                },
            },
            ["data", "components", "1", "components", "0", "custom_id"],
            "COMPONENT_CUSTOM_ID_DUPLICATED",
        ),
        (
            {"type": 7, "data": {"content": "edit what?"}},
            ["type"],
            "INTERACTION_RESPONSE_TYPE_INVALID",
        ),
        ({"type": 4, "data": {"content": "x" * 2001}}, ["data", "content"], "BASE_TYPE_MAX_LENGTH"),
        (
            {"type": 4, "data": {"components": [row(*(button(f"b{i}") for i in range(6)))]}},
            ["data", "components", "0", "components"],
            "BASE_TYPE_MAX_LENGTH",
        ),
    ],
    ids=[
        "modal-title-46",
        "modal-no-inputs",
        "modal-6-inputs",
        "modal-duplicate-ids",
        "update-for-slash",
        "content-2001",
        "6-buttons",
    ],
)
async def test_invalid_callbacks_get_50035_and_leave_the_interaction_open(
    scene: Scene, body: dict[str, Any], path: list[str], code: str
) -> None:
    emu = scene.emu
    async with hand_driven_bot(emu):
        it = await emu.run_slash_command(scene.alice, scene.general, "ping")
        status, rejected = await answer(emu, it.id, it.token, body)
        assert (status, rejected["code"]) == (400, 50035)
        node = rejected["errors"]
        for key in path:
            node = node[key]
        assert code in [e["code"] for e in node["_errors"]], rejected
        # The user's interaction is still waiting; a valid answer now succeeds.
        status, accepted = await answer(
            emu, it.id, it.token, {"type": 4, "data": {"content": "ok"}}
        )
        assert status == 200 and accepted["resource"]["message"]["content"] == "ok"
        assert accepted["interaction"]["response_message_id"] == str(
            it.original.id if it.original else 0
        )


async def test_callbacks_without_with_response_get_204_and_empty_answers_50006(
    scene: Scene,
) -> None:
    emu = scene.emu
    async with hand_driven_bot(emu):
        it = await emu.run_slash_command(scene.alice, scene.general, "ping")
        assert await answer(emu, it.id, it.token, {"type": 4, "data": {"content": ""}}) == (
            400,
            {"message": "Cannot send an empty message", "code": 50006},
        )
        assert await answer(emu, it.id, it.token, {"type": 5}, query="") == (204, None)
        assert it.original is not None and it.original.loading and it.ack_latency is not None


async def test_a_direct_message_opens_one_channel_and_reaches_the_member(scene: Scene) -> None:
    emu, bot = scene.emu, scene.bot
    channel = await bot.create_dm(discord.Object(scene.bob.id))
    assert isinstance(channel, discord.DMChannel)
    sent = await channel.send("psst, bob")
    assert sent.content == "psst, bob" and sent.guild is None
    data = await bot.http.start_private_message(scene.bob.id)
    assert int(data["id"]) == channel.id and data["type"] == 1, "the same DM channel again"
    told = await emu.wait_for_direct_message(scene.bob, lambda m: m.content == "psst, bob")
    assert told.author.id == emu.application_id
    assert emu.errors == []


async def test_a_member_who_refuses_direct_messages_gets_none_50007(scene: Scene) -> None:
    emu, bot = scene.emu, scene.bot
    stranger = emu.world.add_user("stranger")  # shares no server with the bot
    shy = scene.guild.add_member("shy")
    emu.refuse_direct_messages(shy)
    for user_id in (stranger.id, shy.id):
        channel = await bot.create_dm(discord.Object(user_id))
        with pytest.raises(discord.Forbidden) as refused:
            await channel.send("hello?")
        assert refused.value.code == 50007
    with pytest.raises(discord.NotFound):
        await bot.http.start_private_message(123)
    assert emu.direct_messages(shy) == []
    emu.clear_records()


async def test_a_stalled_route_never_answers_until_released(scene: Scene) -> None:
    emu = scene.emu
    emu.stall("POST /api/v10/channels/")
    channel = scene.bot.get_partial_messageable(scene.general.id)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(channel.send("into the void"), timeout=0.3)
    await emu.wait_until_stalled(1)
    assert not [m for m in emu.messages(scene.general) if m.content == "into the void"]
    emu.release_stalls()
    sent = await asyncio.wait_for(channel.send("heard"), timeout=5)
    assert sent.content == "heard", "nothing stalls once released"


async def test_a_stall_after_handling_applies_the_change_and_loses_the_answer(
    scene: Scene,
) -> None:
    emu = scene.emu
    emu.stall("POST /api/v10/channels/", after_handling=True)
    channel = scene.bot.get_partial_messageable(scene.general.id)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(channel.send("landed anyway"), timeout=0.3)
    await emu.wait_for_message(scene.general, lambda m: m.content == "landed anyway")
    emu.release_stalls()


async def test_autocomplete_answers_with_at_most_25_choices_in_time(scene: Scene) -> None:
    emu = scene.emu
    typing = await emu.autocomplete(
        scene.alice, scene.general, "paint", focused="colour", colour="re", size=2
    )
    assert await next_outcome(scene.bot, "paint") is None
    choices = await typing.wait_for_choices()
    assert [c["name"] for c in choices] == ["re 0", "re 1", "re 2"]
    assert typing.response_type == 8 and typing.ack_latency is not None
    options = typing.payload["data"]["options"]
    assert {"name": "colour", "type": 3, "value": "re", "focused": True} in options
    assert typing.messages == []  # an autocomplete answer is no message

    too_many = await emu.autocomplete(
        scene.alice, scene.general, "paint", focused="colour", colour="many"
    )
    refused = await next_outcome(scene.bot, "paint")
    assert isinstance(refused, discord.HTTPException) and refused.code == 50035
    assert too_many.choices is None and too_many.response_type is None

    with pytest.raises(ClientRejected, match="no autocomplete"):
        await emu.autocomplete(scene.alice, scene.general, "imagine", focused="prompt")
    with pytest.raises(ClientRejected, match="no option"):
        await emu.autocomplete(scene.alice, scene.general, "paint", focused="shade")
    emu.clear_records()


async def test_a_message_command_gets_the_message_it_was_run_on(scene: Scene) -> None:
    emu = scene.emu
    said = await emu.send_message(scene.alice, scene.general, "hello there")
    it = await emu.run_message_command(scene.bob, said, "Quote this")
    reply = await it.wait_for_original()
    assert reply.text() == "alice said: hello there" and reply.ephemeral
    data = it.payload["data"]
    assert data["type"] == 3 and data["target_id"] == str(said.id)
    assert data["resolved"]["messages"][str(said.id)]["content"] == "hello there"
    with pytest.raises(ClientRejected, match="no message command"):
        await emu.run_message_command(scene.bob, said, "Quote that")
    with pytest.raises(ClientRejected, match="not synced"):
        await emu.run_slash_command(scene.bob, scene.general, "Quote this")
    emu.assert_no_errors()
