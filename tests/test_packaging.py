"""Reproducible installs and honest licensing: what an owner or a packager relies on.

The Docker image installs from ``requirements.lock`` (exact versions, hashes); if
pyproject.toml gains a dependency the lock lacks, the image would start without it.
These tests read the files only: regenerating the lock needs the network
(``uv pip compile``, the command is in the lock's header).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
LOCK = (REPO / "requirements.lock").read_text()


def _name(requirement: str) -> str:
    """A requirement's project name, normalised as PEP 503 does (discord.py == discord-py)."""
    name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert name, requirement
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


def locked() -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", LOCK, re.MULTILINE)
    return {_name(name): version for name, version in pins}


def test_the_lock_pins_every_runtime_dependency() -> None:
    wanted = [*PYPROJECT["project"]["dependencies"]]
    wanted += PYPROJECT["project"]["optional-dependencies"]["postgres"]
    missing = sorted({_name(r) for r in wanted} - set(locked()))
    assert not missing, (
        f"requirements.lock lacks {missing}: regenerate it with the command in its header"
    )


def test_every_locked_package_is_pinned_with_hashes() -> None:
    blocks = re.split(r"\n(?=[A-Za-z0-9])", LOCK.split("\n", 2)[2].strip())
    pins = re.findall(r"^[A-Za-z0-9][A-Za-z0-9._-]*==", LOCK, re.MULTILINE)
    assert len(blocks) == len(pins), "one pin per block (a package may have one per Python)"
    for block in blocks:
        assert "==" in block.splitlines()[0] and "--hash=sha256:" in block, block


def test_the_image_installs_exactly_the_lock() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
    assert "pip install --no-deps ." in dockerfile, "the project adds nothing unlocked"


def test_the_license_is_mit_and_said_so_in_spdx() -> None:
    assert PYPROJECT["project"]["license"] == "MIT", "an SPDX expression, not a table"
    assert "LICENSE" in PYPROJECT["project"]["license-files"]
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text
