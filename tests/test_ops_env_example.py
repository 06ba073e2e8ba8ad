""".env.example is the owner's manual for configuration: every variable, at its default."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from bot.config import Settings, settings_from_mapping

REPO = Path(__file__).resolve().parents[1]
REQUIRED = {"DISCORD_TOKEN": "MTIz.fake.token", "SIRAYA_API_KEY": "sk-fake"}
SETTING_LINE = re.compile(r"^#?([A-Z][A-Z0-9_]*)=(.*)$")


def variables_the_bot_reads() -> set[str]:
    """Every NAME that bot/config.py looks up, found in its source."""
    source = (REPO / "bot" / "config.py").read_text()
    return set(re.findall(r"""(?:_parse|_required)\(\s*env,\s*"([A-Z][A-Z0-9_]*)\"""", source))


def documented() -> dict[str, str]:
    """NAME -> value of the first (default) line for it, commented out or not."""
    found: dict[str, str] = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        match = SETTING_LINE.match(line)
        if match:
            found.setdefault(match.group(1), match.group(2))
    return found


def test_the_source_scan_finds_the_settings() -> None:
    names = variables_the_bot_reads()
    assert {"DISCORD_TOKEN", "DATABASE_URL", "METRICS_PORT", "HEALTH_FILE"} <= names
    assert len(names) >= len(dataclasses.fields(Settings)) - 1


def test_every_variable_is_documented() -> None:
    missing = variables_the_bot_reads() - set(documented())
    assert not missing, f"add these to .env.example: {sorted(missing)}"


def test_each_documented_value_is_the_default() -> None:
    """Uncommenting every line of .env.example changes nothing."""
    values = {name: value for name, value in documented().items() if name not in REQUIRED}
    assert settings_from_mapping({**REQUIRED, **values}) == settings_from_mapping(REQUIRED)


def test_only_the_required_values_are_active() -> None:
    """Optional lines stay commented out, so the Docker image's own defaults apply."""
    lines = (REPO / ".env.example").read_text().splitlines()
    active = [
        line.split("=", 1)[0] for line in lines if SETTING_LINE.match(line) and line[0] != "#"
    ]
    assert active == ["DISCORD_TOKEN", "SIRAYA_API_KEY"]
