"""Configuration: what a server owner sees when `.env` is right, wrong, or incomplete."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import (
    ConfigError,
    ConfigProblems,
    EventLoop,
    Secret,
    health_file_setting,
    load_settings,
    merged_environment,
    settings_from_mapping,
)
from bot.logs import RedactSecrets, database_password

TOKEN = "MTIzNDU2Nzg5.fake.token-value"
KEY = "sk-siraya-very-secret"
REQUIRED = {"DISCORD_TOKEN": TOKEN, "SIRAYA_API_KEY": KEY}


def test_defaults_match_the_documented_contract() -> None:
    settings = settings_from_mapping(REQUIRED)
    assert settings.siraya_base_url == "https://image.siraya.pro/v1"
    assert settings.siraya_model == "flux-1-srpo-text-to-image"
    assert settings.siraya_image_hosts == ("resource.siraya.pro",)
    assert settings.discord_api_base_url == "https://discord.com/api/v10"
    assert settings.database_url == "sqlite:///data/imagine.db"
    assert settings.command_guild_ids == ()
    assert settings.default_daily_limit == 20
    assert settings.max_concurrent_jobs == 4
    assert settings.log_level == logging.INFO
    assert settings.event_loop is EventLoop.AUTO


def test_every_variable_is_read() -> None:
    settings = settings_from_mapping(
        {
            **REQUIRED,
            "SIRAYA_BASE_URL": "http://localhost:9000/v1/",
            "SIRAYA_MODEL": "other-model",
            "SIRAYA_IMAGE_HOSTS": "cdn.example.com, Images.Example:8443,",
            "DISCORD_API_BASE_URL": "http://proxy:8080/api/v10",
            "DATABASE_URL": "sqlite:////var/lib/imagine.db",
            "COMMAND_GUILD_IDS": "123, 456",
            "DEFAULT_DAILY_LIMIT": "0",
            "MAX_CONCURRENT_JOBS": "8",
            "LOG_LEVEL": "debug",
            "NSFW_SAFETY_CHECKER": "off",
            "EVENT_LOOP": "AsyncIO",
        }
    )
    assert settings.siraya_base_url == "http://localhost:9000/v1"
    assert settings.siraya_model == "other-model"
    assert settings.siraya_image_hosts == ("cdn.example.com", "images.example:8443")
    assert settings.discord_api_base_url == "http://proxy:8080/api/v10"
    assert settings.database_url == "sqlite:////var/lib/imagine.db"
    assert settings.command_guild_ids == (123, 456)
    assert settings.default_daily_limit == 0
    assert settings.max_concurrent_jobs == 8
    assert settings.log_level == logging.DEBUG
    assert settings.nsfw_safety_checker is False
    assert settings.event_loop is EventLoop.ASYNCIO


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("DISCORD_TOKEN", "", "is required"),
        ("SIRAYA_API_KEY", "", "is required"),
        ("MAX_CONCURRENT_JOBS", "four", "whole number"),
        ("MAX_CONCURRENT_JOBS", "0", "between 1 and"),
        ("DEFAULT_DAILY_LIMIT", "-1", "between 0 and"),
        ("DATABASE_URL", "mysql://x", "sqlite:///"),
        ("COMMAND_GUILD_IDS", "12,abc", "server ids"),
        ("SIRAYA_BASE_URL", "image.siraya.pro", "http(s) URL"),
        ("SIRAYA_IMAGE_HOSTS", "https://cdn.example.com/images", "host names"),
        ("SIRAYA_IMAGE_HOSTS", "user:pw@cdn.example.com", "host names"),
        ("SIRAYA_IMAGE_HOSTS", "cdn.example.com:http", "host names"),
        ("LOG_LEVEL", "LOUD", "DEBUG, INFO"),
        ("NSFW_SAFETY_CHECKER", "maybe", "on or off"),
        ("EVENT_LOOP", "tokio", "auto, uvloop or asyncio"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_fix(variable: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping({**REQUIRED, variable: value})
    message = str(caught.value)
    assert message.startswith(variable)
    assert says in message
    assert ".env.example" in message


def test_image_hosts_none_means_only_the_api_itself() -> None:
    settings = settings_from_mapping({**REQUIRED, "SIRAYA_IMAGE_HOSTS": "none"})
    assert settings.siraya_image_hosts == ()


def test_a_rejected_database_url_never_echoes_its_password() -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping({**REQUIRED, "DATABASE_URL": "mysql://bot:hunter2@db/imagine"})
    assert "hunter2" not in str(caught.value) and "'mysql'" in str(caught.value)


def test_shards_default_to_automatic_and_can_be_split_across_processes() -> None:
    automatic = settings_from_mapping(REQUIRED)
    assert automatic.shard_count is None and automatic.shard_ids is None
    split = settings_from_mapping({**REQUIRED, "SHARD_COUNT": "4", "SHARD_IDS": "2, 3"})
    assert split.shard_count == 4 and split.shard_ids == (2, 3)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"SHARD_IDS": "0"}, "needs SHARD_COUNT"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "0,2"}, "below SHARD_COUNT=2"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "1,1"}, "twice"),
        ({"SHARD_COUNT": "0"}, "between 1 and"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "a"}, "shard numbers"),
    ],
)
def test_bad_shard_settings_are_explained(env: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        settings_from_mapping({**REQUIRED, **env})


def test_env_file_is_read_and_real_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"DISCORD_TOKEN={TOKEN}\nSIRAYA_API_KEY={KEY}\nMAX_CONCURRENT_JOBS=2\n")
    settings = load_settings({"MAX_CONCURRENT_JOBS": "7"}, env_file=env_file)
    assert settings.discord_token.reveal() == TOKEN
    assert settings.max_concurrent_jobs == 7


def test_secrets_never_show_in_repr_or_str() -> None:
    settings = settings_from_mapping(REQUIRED)
    for text in (repr(settings), str(settings), repr(settings.discord_token), f"{settings}"):
        assert TOKEN not in text
        assert KEY not in text
    assert Secret(TOKEN) == settings.discord_token


def test_log_filter_redacts_secrets_in_messages_and_tracebacks() -> None:
    record_logger = logging.getLogger("test.redact")
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Collect()
    handler.addFilter(RedactSecrets([TOKEN, KEY]))
    record_logger.addHandler(handler)
    try:
        record_logger.warning("sending Authorization: Bearer %s", KEY)
        try:
            raise RuntimeError(f"bad token {TOKEN}")
        except RuntimeError:
            record_logger.exception("failed")
    finally:
        record_logger.removeHandler(handler)
    joined = "\n".join(records)
    assert "[redacted]" in joined
    assert TOKEN not in joined and KEY not in joined


def test_log_filter_hides_interaction_tokens_and_the_database_password() -> None:
    token = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5OmFiY2RlZmdoaWprbG1ub3A"
    url = f"PATCH https://discord.com/api/v10/webhooks/1234567890/{token}/messages/@original"
    callback = f"POST /api/v10/interactions/987654321/{token}/callback?with_response=1"
    password = database_password("postgresql://bot:s3cr3t-pw@db:5432/imagine")
    assert password == "s3cr3t-pw"
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Collect()
    handler.addFilter(RedactSecrets([password]))
    logger = logging.getLogger("test.redact.urls")
    logger.addHandler(handler)
    try:
        logger.warning("%s has returned %s", url, 200)
        logger.warning(callback)
        logger.warning("connecting with postgresql://bot:%s@db/imagine", password)
    finally:
        logger.removeHandler(handler)
    joined = "\n".join(records)
    assert token not in joined and password not in joined
    assert "/webhooks/1234567890/[redacted]/messages/@original" in joined


def test_starting_without_either_secret_names_both_and_exits_2(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISCORD_TOKEN", "SIRAYA_API_KEY", "ENV_FILE")
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert "DISCORD_TOKEN is required" in lines[0] and "SIRAYA_API_KEY is required" in lines[1]
    assert all(".env.example" in line for line in lines)
    assert all(f"no {tmp_path / '.env'} found" in line for line in lines), "says where it looked"
    assert "Traceback" not in result.stderr


def test_every_bad_setting_is_reported_at_once() -> None:
    with pytest.raises(ConfigProblems) as caught:
        settings_from_mapping(
            {
                "DISCORD_TOKEN": TOKEN,
                "MAX_CONCURRENT_JOBS": "four",
                "LOG_LEVEL": "LOUD",
                "SHARD_COUNT": "2",
                "SHARD_IDS": "5",
            }
        )
    assert [p.variable for p in caught.value.problems] == [
        "SHARD_IDS",
        "SIRAYA_API_KEY",
        "MAX_CONCURRENT_JOBS",
        "LOG_LEVEL",
    ]
    assert len(str(caught.value).splitlines()) == 4


def test_a_missing_setting_names_the_file_that_was_read(tmp_path: Path) -> None:
    env_file = tmp_path / "imagine.env"
    env_file.write_text(f"DISCORD_TOKEN={TOKEN}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings({"ENV_FILE": str(env_file)})
    assert str(caught.value).startswith("SIRAYA_API_KEY is required")
    assert f"not in {env_file} nor in the environment" in str(caught.value)


def test_env_file_names_the_file_to_read(tmp_path: Path) -> None:
    env_file = tmp_path / "elsewhere.env"
    env_file.write_text(f"DISCORD_TOKEN={TOKEN}\nSIRAYA_API_KEY={KEY}\n")
    settings = load_settings({"ENV_FILE": str(env_file)})
    assert settings.siraya_api_key.reveal() == KEY


def test_an_env_file_that_does_not_exist_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**REQUIRED, "ENV_FILE": str(tmp_path / "missing.env")})
    assert str(caught.value).startswith("ENV_FILE names")
    assert "missing.env" in str(caught.value)


def test_operations_settings_are_off_unless_set() -> None:
    settings = settings_from_mapping(REQUIRED)
    assert settings.metrics_port is None
    assert settings.metrics_host == "127.0.0.1", "metrics stay on loopback unless asked"
    assert settings.health_file is None


def test_operations_settings_are_read() -> None:
    settings = settings_from_mapping(
        {
            **REQUIRED,
            "METRICS_PORT": "9464",
            "METRICS_HOST": "0.0.0.0",
            "HEALTH_FILE": "/tmp/imagine-bot.health",
        }
    )
    assert settings.metrics_port == 9464
    assert settings.metrics_host == "0.0.0.0"
    assert settings.health_file == Path("/tmp/imagine-bot.health")
    assert settings_from_mapping({**REQUIRED, "HEALTH_FILE": "off"}).health_file is None


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("METRICS_PORT", "http", "whole number"),
        ("METRICS_PORT", "0", "between 1 and 65535"),
        ("METRICS_PORT", "70000", "between 1 and 65535"),
        ("METRICS_HOST", "http://0.0.0.0", "address to listen on"),
        ("HEALTH_FILE", "/tmp/", "file path"),
    ],
)
def test_a_bad_operations_value_names_the_variable(variable: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping({**REQUIRED, variable: value})
    assert str(caught.value).startswith(variable) and says in str(caught.value)


def test_the_health_file_is_read_without_the_secrets(tmp_path: Path) -> None:
    """The healthcheck must not fail because it was run without the bot's token."""
    env_file = tmp_path / ".env"
    env_file.write_text("HEALTH_FILE=/data/health\n")
    assert health_file_setting(merged_environment({}, env_file)) == Path("/data/health")
    assert health_file_setting(merged_environment({"HEALTH_FILE": "x"}, env_file)) == Path("x")
    assert health_file_setting({}) is None
