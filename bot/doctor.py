"""``python -m bot check`` and ``python -m bot invite``: help an owner get set up.

``check`` answers "why doesn't my bot work?" before the owner has to read logs: one
pass/fail line per thing that can be wrong, in the order they depend on each other.
It never spends image credit: the API is probed with a request it must refuse.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from bot.config import PersonalUse, Settings
from bot.store import open_store

PERMISSIONS = {
    "View Channels": 1 << 10,
    "Send Messages": 1 << 11,
    "Embed Links": 1 << 14,
    "Attach Files": 1 << 15,
    "Read Message History": 1 << 16,
    "Send Messages in Threads": 1 << 38,
}
"""Exactly what the bot uses: read the channel, post results with embeds and files."""

PERMISSIONS_VALUE = sum(PERMISSIONS.values())
TIMEOUT = aiohttp.ClientTimeout(total=15, connect=10)


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    warning: bool = False  # works, but probably not as the owner meant: said, not failed

    def line(self) -> str:
        state = "WARN" if self.ok and self.warning else "PASS" if self.ok else "FAIL"
        return f"{state}  {self.name}: {self.detail}"


async def check_database(settings: Settings) -> CheckResult:
    try:
        store = await open_store(settings.database_url)
    except Exception as error:  # every failure is reported, not raised: this is a doctor
        return CheckResult("database", False, f"cannot open or migrate: {error}")
    await store.close()
    return CheckResult("database", True, "opened and migrated")


RETENTION_SETTINGS = frozenset(
    {"RETENTION_DAYS", "AUDIT_RETENTION_DAYS", "SIRAYA_PRICE_PER_MEGAPIXEL"}
)


def check_retention(settings: Settings) -> CheckResult:
    """Not a probe: what the bot keeps, and what it counts as spend, so nothing surprises."""
    price = settings.price_per_megapixel
    spend = (
        f"spend estimated at {price.text()}"
        if price is not None
        else "no spend shown (SIRAYA_PRICE_PER_MEGAPIXEL unset)"
    )
    return CheckResult(
        "retention",
        True,
        f"usage log kept {settings.retention_days} days (older rows live on as daily totals),"
        f" audit log {settings.audit_retention_days} days; {spend}",
    )


PERSONAL_SETTINGS = frozenset({"PERSONAL_USE", "PERSONAL_DAILY_LIMIT", "COMMAND_GUILD_IDS"})


def check_personal_use(settings: Settings) -> CheckResult:
    """Not a probe: where members may generate on the owner's bill, and a setting that
    cannot do what it seems to."""
    mode, limit = settings.personal_use, settings.personal_daily_limit
    if mode is PersonalUse.OFF:
        return CheckResult(
            "personal use",
            True,
            "off: images only in servers the bot is in (their limits and budgets)",
        )
    who = (
        "members of a server the bot is in"
        if mode is PersonalUse.MEMBERS
        else "anyone who installs the app"
    )
    detail = (
        f"{mode.value}: {who} can also generate in DMs, group DMs and servers without the "
        f"bot, up to {limit} image(s) each per UTC day, billed to you"
    )
    if limit == 0:
        return CheckResult(
            "personal use",
            False,
            f"PERSONAL_USE={mode.value} with PERSONAL_DAILY_LIMIT=0 cannot work: nobody can "
            "generate outside servers; set a limit or PERSONAL_USE=off",
        )
    if settings.command_guild_ids:
        return CheckResult(
            "personal use",
            True,
            f"{detail}; COMMAND_GUILD_IDS now carries only /quota and /settings: /imagine, "
            "/usage and /queue are global (only global commands can be user-installed) and "
            "may take up to an hour to appear",
            warning=True,
        )
    return CheckResult("personal use", True, detail)


async def check_discord(settings: Settings, session: aiohttp.ClientSession) -> CheckResult:
    url = f"{settings.discord_api_base_url}/users/@me"
    headers = {"Authorization": f"Bot {settings.discord_token.reveal()}"}
    try:
        async with session.get(url, headers=headers) as response:
            if response.status == 401:
                return CheckResult("discord", False, "Discord rejected DISCORD_TOKEN (401)")
            if response.status != 200:
                return CheckResult("discord", False, f"unexpected HTTP {response.status}")
            user = await response.json()
    except (aiohttp.ClientError, TimeoutError) as error:
        return CheckResult("discord", False, f"cannot reach {url}: {type(error).__name__}")
    return CheckResult("discord", True, f"token accepted for {user.get('username', '?')}")


async def check_image_api(settings: Settings, session: aiohttp.ClientSession) -> CheckResult:
    """Send a generation request without a prompt: 400 means the key was accepted."""
    url = f"{settings.siraya_base_url}/images/generations"
    headers = {"Authorization": f"Bearer {settings.siraya_api_key.reveal()}"}
    try:
        async with session.post(url, json={"model": settings.siraya_model}, headers=headers) as r:
            status = r.status
    except (aiohttp.ClientError, TimeoutError) as error:
        return CheckResult("image api", False, f"cannot reach {url}: {type(error).__name__}")
    if status == 401:
        return CheckResult("image api", False, "the API rejected SIRAYA_API_KEY (401)")
    if status == 402:
        return CheckResult("image api", False, "the account is out of credit (402)")
    if status in (400, 422):
        return CheckResult("image api", True, "answering, key accepted")
    return CheckResult("image api", False, f"unexpected HTTP {status} from {url}")


NETWORK_CHECKS: tuple[
    tuple[str, frozenset[str], Callable[[Settings, aiohttp.ClientSession], Awaitable[CheckResult]]],
    ...,
] = (
    ("discord", frozenset({"DISCORD_TOKEN", "DISCORD_API_BASE_URL"}), check_discord),
    (
        "image api",
        frozenset({"SIRAYA_API_KEY", "SIRAYA_BASE_URL", "SIRAYA_MODEL"}),
        check_image_api,
    ),
)
"""Each connectivity check with the settings it needs: a bad one skips only its checks."""


def _skipped(name: str, needs: frozenset[str], bad: frozenset[str]) -> CheckResult | None:
    broken = sorted(needs & bad)
    if not broken:
        return None
    return CheckResult(name, False, f"not tried: fix {', '.join(broken)} first")


async def run_checks(
    settings: Settings, bad_settings: frozenset[str] = frozenset()
) -> list[CheckResult]:
    """Every check, each independent of the others' outcome.

    ``bad_settings`` names the variables that failed validation (``settings`` holds their
    defaults): checks that need one are reported as not tried, the rest still run, so one
    run of ``check`` shows everything that is wrong.
    """
    results = [
        _skipped("database", frozenset({"DATABASE_URL"}), bad_settings)
        or await check_database(settings),
        _skipped("retention", RETENTION_SETTINGS, bad_settings) or check_retention(settings),
        _skipped("personal use", PERSONAL_SETTINGS, bad_settings) or check_personal_use(settings),
    ]
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        for name, needs, check in NETWORK_CHECKS:
            results.append(_skipped(name, needs, bad_settings) or await check(settings, session))
    return results


def application_id_from_token(token: str) -> int | None:
    """A bot token's first part is the bot's id in base64 (equal to its application id)."""
    head = token.split(".", 1)[0]
    try:
        decoded = base64.b64decode(head + "=" * (-len(head) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return int(decoded) if decoded.isdigit() else None


def user_install_url(application_id: int) -> str:
    """The link that adds the app to a member's own account (PERSONAL_USE on)."""
    return (
        "https://discord.com/oauth2/authorize"
        f"?client_id={application_id}&integration_type=1&scope=applications.commands"
    )


def invite_url(application_id: int) -> str:
    return (
        "https://discord.com/oauth2/authorize"
        f"?client_id={application_id}&scope=bot+applications.commands"
        f"&permissions={PERMISSIONS_VALUE}"
    )
