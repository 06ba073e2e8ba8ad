"""The command line an owner meets first: ``python -m bot`` and ``python -m bench``.

Every test runs the real ``python -m …`` in a subprocess, from an empty folder with no
bot settings in its environment, and reads what the owner reads: the text and the exit
status (0 fine, 1 a check failed, 2 bad configuration or usage).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COMMANDS = ("run", "check", "invite", "health", "copy-data")
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.fake.token-value"  # base64("123456789012345678")


def owner_env(**settings: str) -> dict[str, str]:
    """The test runner's environment without any bot setting, plus ``settings``."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DISCORD_", "SIRAYA_", "DATABASE_", "METRICS_", "HEALTH_", "ENV_"))
    }
    return {**base, **settings, "PYTHONPATH": str(REPO)}


def run(
    *args: str, cwd: Path, module: str = "bot", **settings: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=owner_env(**settings),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_lists_every_command_with_a_line_each(tmp_path: Path) -> None:
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    listed = {
        line.split()[0]: line
        for line in result.stdout.splitlines()
        if line.startswith("    ") and line.split()
    }
    for command in COMMANDS:
        assert command in listed and len(listed[command].split()) > 3, result.stdout
    assert "(the default)" in listed["run"]
    for status in ("0  fine", "1  a check failed", "2  bad configuration"):
        assert status in result.stdout


@pytest.mark.parametrize("spelling", [["-h"], ["help"]])
def test_other_spellings_of_help_show_the_same(spelling: list[str], tmp_path: Path) -> None:
    assert run(*spelling, cwd=tmp_path).stdout == run("--help", cwd=tmp_path).stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_explains_itself(command: str, tmp_path: Path) -> None:
    result = run(command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: imagine-bot {command}")
    assert "exit status:" in result.stdout
    if command == "check":  # `help COMMAND` is the same page (checked once: a start is ~1 s)
        assert run("help", command, cwd=tmp_path).stdout == result.stdout


def test_version_is_the_packaged_one(tmp_path: Path) -> None:
    expected = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    result = run("--version", cwd=tmp_path)
    assert (result.returncode, result.stdout.strip()) == (0, f"imagine-bot {expected}")


def test_an_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    result = run("serve", cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid choice: 'serve'" in result.stderr and "usage: imagine-bot" in result.stderr


def test_env_file_names_where_the_settings_live(tmp_path: Path) -> None:
    elsewhere = tmp_path / "etc" / "imagine-bot.env"
    elsewhere.parent.mkdir()
    elsewhere.write_text(f"DISCORD_TOKEN={TOKEN}\n")
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = run("invite", cwd=workdir, ENV_FILE=str(elsewhere))
    assert result.returncode == 0, result.stderr
    assert "client_id=123456789012345678" in result.stdout


def test_a_missing_env_file_is_named(tmp_path: Path) -> None:
    result = run("invite", cwd=tmp_path, ENV_FILE=str(tmp_path / "nope.env"))
    assert result.returncode == 2
    assert f"ENV_FILE names {tmp_path / 'nope.env'}, which is not a readable file" in result.stderr


def test_health_never_exits_2(tmp_path: Path) -> None:
    """Docker reserves exit 2 of a HEALTHCHECK; a bad setting is simply 'unhealthy'."""
    result = run("health", cwd=tmp_path, HEALTH_FILE="/tmp/")
    assert result.returncode == 1 and result.stdout.startswith("unhealthy: HEALTH_FILE")


def test_bench_help_describes_it_without_running_anything(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--help"],
        cwd=REPO,
        env=owner_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m bench")
    assert "##" not in result.stdout, "no benchmark ran"
