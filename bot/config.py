"""Settings: read once at start from the environment (and ``.env``), validated, immutable.

Every value the bot needs from its owner is here, with its default, so there is one
place to look. Bad values stop the bot before it touches Discord, with one line per
problem that names the variable: *every* problem in one run, so an owner fixes their
``.env`` once instead of once per setting. That is kinder to a self-hoster than a
traceback from deep inside a connection attempt.

Adding a setting: a field on :class:`Settings` (with its default) and one
``_parse(env, <NAME>, default, parser)`` line in :func:`settings_from_mapping`, where a
parser is a function of the raw text that raises :class:`ConfigError`. ``_parse``
collects that error and carries on, so the new setting joins the one-run report for
free. Then a line in ``.env.example`` and the README's table.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from dotenv import dotenv_values

from bot.policy.spend import Price, PriceError

ENV_EXAMPLE_HINT = "see .env.example"
DEFAULT_ENV_FILE = ".env"
"""Read from the working directory unless ``ENV_FILE`` names another file."""
MAX_RETENTION_DAYS = 36_500
"""A hundred years: effectively "keep everything", still a number the pruner can use."""
_T = TypeVar("_T")


class PersonalUse(StrEnum):
    """``PERSONAL_USE``: where else than servers members may generate (on the owner's bill).

    ``off``: servers only. ``members``: also in the bot's DM, group DMs and servers without
    the bot, for people who share at least one server with it. ``everyone``: the same for
    anyone who installs the app to their account.
    """

    OFF = "off"
    MEMBERS = "members"
    EVERYONE = "everyone"

    @property
    def enabled(self) -> bool:
        return self is not PersonalUse.OFF


class EventLoop(StrEnum):
    """``EVENT_LOOP``: ``auto`` (uvloop on Linux where installed, see bot/eventloop.py),
    ``uvloop`` (refused when it is not installed) or ``asyncio`` (the standard loop)."""

    AUTO = "auto"
    UVLOOP = "uvloop"
    ASYNCIO = "asyncio"


class ConfigError(Exception):
    """A setting is missing or malformed. ``str()`` is the one line shown to the owner."""

    def __init__(self, variable: str, problem: str, hint: str = ENV_EXAMPLE_HINT) -> None:
        self.variable = variable
        self.problem = problem
        self.hint = hint
        super().__init__(f"{variable} {problem} ({hint})")


class ConfigProblems(ConfigError):
    """Every problem found in one read of the settings; ``str()`` is one line per problem."""

    def __init__(self, problems: list[ConfigError]) -> None:
        first = problems[0]
        super().__init__(first.variable, first.problem)
        self.problems = tuple(problems)
        self.args = ("\n".join(str(p) for p in problems),)

    def __str__(self) -> str:
        return str(self.args[0])

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(p.variable for p in self.problems)


class Environment(Mapping[str, str]):
    """The merged environment, where it came from, and the problems found reading it.

    Parsers raise :class:`ConfigError`; :func:`_parse` records it here and returns the
    default, so one read finds every problem instead of stopping at the first.
    ``env_file`` is the file read or looked for (``None``: no file was asked for).
    """

    def __init__(
        self, values: Mapping[str, str], env_file: Path | None = None, found: bool = False
    ) -> None:
        self._values = dict(values)
        self.env_file = env_file
        self.env_file_found = found
        self.problems: list[ConfigError] = []

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def source(self) -> str:
        """Where settings were looked for, for a "required but not set" line."""
        if self.env_file is None:
            return "not in the environment"
        where = self.env_file.resolve()
        if self.env_file_found:
            return f"not in {where} nor in the environment"
        return f"no {where} found: run from its folder or set ENV_FILE to its path"

    def attempt(self, read: Callable[[], _T], default: _T) -> _T:
        """``read()``, or ``default`` with its problem recorded."""
        try:
            return read()
        except ConfigError as error:
            self.problems.append(error)
            return default

    def raise_problems(self) -> None:
        if self.problems:
            raise ConfigProblems(self.problems)


class Secret:
    """A string that never shows itself in a repr, str, log line or traceback.

    Settings objects end up in debug logs and error reports; wrapping the token and
    the API key means nobody has to remember to redact them.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value, for the one place that must send it (an Authorization header)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    """Everything configurable about a running bot. See ``.env.example`` for each variable."""

    discord_token: Secret
    siraya_api_key: Secret
    siraya_base_url: str = "https://image.siraya.pro/v1"
    siraya_model: str = "flux-1-srpo-text-to-image"
    siraya_image_hosts: tuple[str, ...] = ("resource.siraya.pro",)
    """Hosts (``host`` or ``host:port``) images may be downloaded from, besides the API's own."""
    discord_api_base_url: str = "https://discord.com/api/v10"
    database_url: str = "sqlite:///data/imagine.db"
    command_guild_ids: tuple[int, ...] = ()
    default_daily_limit: int = 20
    personal_use: PersonalUse = PersonalUse.OFF
    personal_daily_limit: int = 5
    """Images per user per UTC day across every personal place (DMs, servers without the bot)."""
    max_concurrent_jobs: int = 4
    log_level: int = logging.INFO
    event_loop: EventLoop = EventLoop.AUTO
    nsfw_safety_checker: bool = True
    siraya_max_attempts: int = 4
    siraya_timeout_seconds: float = 180.0
    max_jobs_per_user: int = 2
    queue_limit: int = 100
    shutdown_grace_seconds: float = 30.0
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    health_file: Path | None = None
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    price_per_megapixel: Price | None = None  # unset: no cost recorded, no money shown
    retention_days: int = 180
    audit_retention_days: int = 365


def _required(env: Mapping[str, str], name: str) -> str:
    """The value, or ``""`` with the problem recorded (``env`` is an :class:`Environment`)."""

    def read() -> str:
        value = env.get(name, "").strip()
        if not value:
            hint = env.source() if isinstance(env, Environment) else ""
            raise ConfigError(name, "is required but not set", f"{hint}; {ENV_EXAMPLE_HINT}")
        if any(ch.isspace() for ch in value):
            raise ConfigError(name, "must not contain spaces or line breaks")
        return value

    return _attempt(env, read, "")


def _attempt(env: Mapping[str, str], read: Callable[[], _T], default: _T) -> _T:
    """Collect the problem when ``env`` collects them; raise it for a plain mapping."""
    if isinstance(env, Environment):
        return env.attempt(read, default)
    return read()


def _parse(env: Mapping[str, str], name: str, default: _T, parse: Callable[[str], _T]) -> _T:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    return _attempt(env, lambda: parse(raw), default)


_N = TypeVar("_N", int, float)


def _number_in(name: str, kind: type[_N], low: _N, high: _N) -> Callable[[str], _N]:
    what = "a whole number" if kind is int else "a number"

    def show(value: _N) -> str:
        return str(value) if kind is int else f"{value:g}"

    def parse(raw: str) -> _N:
        try:
            value = kind(raw)
        except ValueError:
            raise ConfigError(name, f"must be {what}, got {raw!r}") from None
        if not low <= value <= high:
            raise ConfigError(
                name, f"must be between {show(low)} and {show(high)}, got {show(value)}"
            )
        return value

    return parse


def _int_in(name: str, low: int, high: int) -> Callable[[str], int]:
    return _number_in(name, int, low, high)


def _float_in(name: str, low: float, high: float) -> Callable[[str], float]:
    return _number_in(name, float, low, high)


def _http_url(name: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(name, f"must be an http(s) URL, got {raw!r}")
        return raw.rstrip("/")

    return parse


def _image_hosts(raw: str) -> tuple[str, ...]:
    """Comma-separated ``host`` or ``host:port``; ``none`` means only the API's own origin."""
    if raw.lower() == "none":
        return ()
    hosts: list[str] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            parts = urlsplit(f"//{part}")
            valid = (
                bool(parts.hostname)
                and parts.port != 0
                and not (
                    parts.username or parts.password or parts.path or parts.query or parts.fragment
                )
            )
        except ValueError:
            valid = False
        if not valid or any(ch.isspace() for ch in part):
            raise ConfigError(
                "SIRAYA_IMAGE_HOSTS",
                f"must be comma-separated host names (optionally host:port) or none, got {part!r}",
            )
        hosts.append(part.lower())
    return tuple(hosts)


def _database_url_named(name: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw.startswith("sqlite:///") and len(raw) > len("sqlite:///"):
            return raw
        if raw.startswith(("postgresql://", "postgres://")):
            return raw
        scheme = raw.partition("://")[0] if "://" in raw else "no scheme"
        # Only the scheme is echoed: the rest of a database URL can carry a password.
        raise ConfigError(
            name,
            f"must look like sqlite:///relative/path.db, sqlite:////absolute/path.db "
            f"or postgresql://user@host/db, got a {scheme!r} URL",
        )

    return parse


_database_url = _database_url_named("DATABASE_URL")


def database_url_setting(raw: str, name: str) -> str:
    """A database URL given on the command line (``copy-data``), checked like DATABASE_URL."""
    return _database_url_named(name)(raw.strip())


def _guild_ids(raw: str) -> tuple[int, ...]:
    ids: list[int] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit():
            raise ConfigError(
                "COMMAND_GUILD_IDS", f"must be comma-separated server ids, got {part!r}"
            )
        ids.append(int(part))
    return tuple(ids)


def _personal_use(raw: str) -> PersonalUse:
    try:
        return PersonalUse(raw.lower())
    except ValueError:
        raise ConfigError(
            "PERSONAL_USE", f"must be off, members or everyone, got {raw!r}"
        ) from None


def _log_level(raw: str) -> int:
    level = logging.getLevelName(raw.upper())
    if not isinstance(level, int):
        raise ConfigError("LOG_LEVEL", f"must be DEBUG, INFO, WARNING or ERROR, got {raw!r}")
    return level


def _event_loop(raw: str) -> EventLoop:
    try:
        choice = EventLoop(raw.lower())
    except ValueError:
        raise ConfigError("EVENT_LOOP", f"must be auto, uvloop or asyncio, got {raw!r}") from None
    if choice is EventLoop.UVLOOP and importlib.util.find_spec("uvloop") is None:
        raise ConfigError(
            "EVENT_LOOP",
            "is uvloop, which is not installed (it comes with the bot on Linux only)",
            "set EVENT_LOOP=auto or asyncio, or pip install uvloop",
        )
    return choice


def _on_off(name: str) -> Callable[[str], bool]:
    def parse(raw: str) -> bool:
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(name, f"must be on or off, got {raw!r}")

    return parse


def _metrics_host(raw: str) -> str:
    if any(ch.isspace() for ch in raw) or "/" in raw:
        raise ConfigError(
            "METRICS_HOST", f"must be an address to listen on such as 127.0.0.1, got {raw!r}"
        )
    return raw


def _health_file(raw: str) -> Path | None:
    if raw.lower() == "off":
        return None
    if raw.endswith(("/", "\\")) or "\0" in raw:
        raise ConfigError(
            "HEALTH_FILE", f"must be a file path such as /tmp/imagine-bot.health, got {raw!r}"
        )
    return Path(raw)


def health_file_setting(env: Mapping[str, str]) -> Path | None:
    """HEALTH_FILE alone: ``imagine-bot health`` needs no token to read the health file."""
    return _parse(env, "HEALTH_FILE", None, _health_file)


def _shard_ids(raw: str) -> tuple[int, ...]:
    ids: list[int] = []
    for part in raw.split(","):
        part = part.strip()
        if not part.isdigit():
            raise ConfigError("SHARD_IDS", f"must be comma-separated shard numbers, got {part!r}")
        ids.append(int(part))
    if len(set(ids)) != len(ids):
        raise ConfigError("SHARD_IDS", "lists a shard twice")
    return tuple(ids)


def _shards(env: Mapping[str, str]) -> tuple[int | None, tuple[int, ...] | None]:
    """SHARD_COUNT alone runs every shard here; with SHARD_IDS, only those (one process of many)."""
    count = _parse(env, "SHARD_COUNT", None, _int_in("SHARD_COUNT", 1, 100_000))
    ids = _parse(env, "SHARD_IDS", None, _shard_ids)
    if ids is None or (count is None and "SHARD_COUNT" in env and env["SHARD_COUNT"].strip()):
        return count, ids  # no ids, or SHARD_COUNT's own problem is already reported

    def together() -> tuple[int | None, tuple[int, ...] | None]:
        assert ids is not None
        if count is None:
            raise ConfigError("SHARD_IDS", "needs SHARD_COUNT (the total across all processes)")
        outside = [i for i in ids if i >= count]
        if outside:
            raise ConfigError(
                "SHARD_IDS",
                f"must be below SHARD_COUNT={count} (shards count from 0), got {outside}",
            )
        return count, ids

    no_ids: tuple[int | None, tuple[int, ...] | None] = (count, None)
    return _attempt(env, together, no_ids)


def _price(raw: str) -> Price:
    try:
        return Price.parse(raw)
    except PriceError as error:
        raise ConfigError("SIRAYA_PRICE_PER_MEGAPIXEL", str(error)) from None


def settings_from_mapping(env: Mapping[str, str]) -> Settings:
    """Validated settings, or :class:`ConfigProblems` listing every bad setting at once."""
    collecting = env if isinstance(env, Environment) else Environment(env)
    settings = read_settings(collecting)
    collecting.raise_problems()
    return settings


def read_settings(env: Environment) -> Settings:
    """Settings with a default in place of each bad value; the problems are in ``env``.

    ``check`` uses this to run whichever connectivity checks the good settings allow.
    """
    shard_count, shard_ids = _shards(env)
    return Settings(
        discord_token=Secret(_required(env, "DISCORD_TOKEN")),
        siraya_api_key=Secret(_required(env, "SIRAYA_API_KEY")),
        siraya_base_url=_parse(
            env, "SIRAYA_BASE_URL", Settings.siraya_base_url, _http_url("SIRAYA_BASE_URL")
        ),
        siraya_model=_parse(env, "SIRAYA_MODEL", Settings.siraya_model, str),
        siraya_image_hosts=_parse(
            env, "SIRAYA_IMAGE_HOSTS", Settings.siraya_image_hosts, _image_hosts
        ),
        discord_api_base_url=_parse(
            env,
            "DISCORD_API_BASE_URL",
            Settings.discord_api_base_url,
            _http_url("DISCORD_API_BASE_URL"),
        ),
        database_url=_parse(env, "DATABASE_URL", Settings.database_url, _database_url),
        command_guild_ids=_parse(env, "COMMAND_GUILD_IDS", (), _guild_ids),
        default_daily_limit=_parse(
            env,
            "DEFAULT_DAILY_LIMIT",
            Settings.default_daily_limit,
            _int_in("DEFAULT_DAILY_LIMIT", 0, 100_000),
        ),
        personal_use=_parse(env, "PERSONAL_USE", Settings.personal_use, _personal_use),
        personal_daily_limit=_parse(
            env,
            "PERSONAL_DAILY_LIMIT",
            Settings.personal_daily_limit,
            _int_in("PERSONAL_DAILY_LIMIT", 0, 100_000),
        ),
        max_concurrent_jobs=_parse(
            env,
            "MAX_CONCURRENT_JOBS",
            Settings.max_concurrent_jobs,
            _int_in("MAX_CONCURRENT_JOBS", 1, 256),
        ),
        log_level=_parse(env, "LOG_LEVEL", Settings.log_level, _log_level),
        event_loop=_parse(env, "EVENT_LOOP", Settings.event_loop, _event_loop),
        nsfw_safety_checker=_parse(
            env,
            "NSFW_SAFETY_CHECKER",
            Settings.nsfw_safety_checker,
            _on_off("NSFW_SAFETY_CHECKER"),
        ),
        siraya_max_attempts=_parse(
            env,
            "SIRAYA_MAX_ATTEMPTS",
            Settings.siraya_max_attempts,
            _int_in("SIRAYA_MAX_ATTEMPTS", 1, 20),
        ),
        siraya_timeout_seconds=_parse(
            env,
            "SIRAYA_TIMEOUT_SECONDS",
            Settings.siraya_timeout_seconds,
            _float_in("SIRAYA_TIMEOUT_SECONDS", 5, 3600),
        ),
        max_jobs_per_user=_parse(
            env,
            "MAX_JOBS_PER_USER",
            Settings.max_jobs_per_user,
            _int_in("MAX_JOBS_PER_USER", 1, 1000),
        ),
        queue_limit=_parse(
            env, "QUEUE_LIMIT", Settings.queue_limit, _int_in("QUEUE_LIMIT", 1, 100_000)
        ),
        shutdown_grace_seconds=_parse(
            env,
            "SHUTDOWN_GRACE_SECONDS",
            Settings.shutdown_grace_seconds,
            _float_in("SHUTDOWN_GRACE_SECONDS", 0, 3600),
        ),
        metrics_port=_parse(env, "METRICS_PORT", None, _int_in("METRICS_PORT", 1, 65535)),
        metrics_host=_parse(env, "METRICS_HOST", Settings.metrics_host, _metrics_host),
        health_file=health_file_setting(env),
        shard_count=shard_count,
        shard_ids=shard_ids,
        price_per_megapixel=_parse(env, "SIRAYA_PRICE_PER_MEGAPIXEL", None, _price),
        retention_days=_parse(
            env,
            "RETENTION_DAYS",
            Settings.retention_days,
            _int_in("RETENTION_DAYS", 1, MAX_RETENTION_DAYS),
        ),
        audit_retention_days=_parse(
            env,
            "AUDIT_RETENTION_DAYS",
            Settings.audit_retention_days,
            _int_in("AUDIT_RETENTION_DAYS", 1, MAX_RETENTION_DAYS),
        ),
    )


def discord_token_setting(env: Environment) -> Secret:
    """DISCORD_TOKEN alone: ``invite`` needs nothing else."""
    token = Secret(_required(env, "DISCORD_TOKEN"))
    env.raise_problems()
    return token


def personal_use_setting(env: Environment) -> PersonalUse:
    """PERSONAL_USE alone: ``invite`` prints a user-install link too when it is on."""
    mode = _parse(env, "PERSONAL_USE", Settings.personal_use, _personal_use)
    env.raise_problems()
    return mode


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: str | Path | None = DEFAULT_ENV_FILE
) -> Settings:
    """Read ``env_file`` (if it exists) under the real environment, which wins, then validate."""
    return settings_from_mapping(merged_environment(environ, env_file))


def merged_environment(
    environ: Mapping[str, str] | None = None, env_file: str | Path | None = DEFAULT_ENV_FILE
) -> Environment:
    """``env_file`` (if it exists) overlaid by the real environment (or ``environ``).

    ``ENV_FILE`` in the environment, when set, replaces the default ``./.env``: a systemd
    unit or a cron job rarely starts in the folder that holds it. A file ``ENV_FILE``
    names but that does not exist is a problem; a missing ``./.env`` is not (Docker and
    systemd pass real environment variables instead).
    """
    real = os.environ if environ is None else environ
    named = real.get("ENV_FILE", "").strip()
    if named and env_file == DEFAULT_ENV_FILE:
        env_file = named
    path = None if env_file is None else Path(env_file).expanduser()
    found = path is not None and path.is_file()
    merged: dict[str, str] = {}
    if found:
        assert path is not None
        merged.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    merged.update(real)
    env = Environment(merged, path, found)
    if named and not found:
        env.problems.append(ConfigError("ENV_FILE", f"names {path}, which is not a readable file"))
    return env
