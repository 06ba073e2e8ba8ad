"""Reproducible installs and honest licensing: what an owner or a packager relies on.

The Docker image installs from ``requirements.lock`` (exact versions, hashes); if
pyproject.toml gains a dependency the lock lacks, the image would start without it.
These tests read the files only: regenerating the lock needs the network
(``uv pip compile``, the command is in the lock's header). One builds a wheel, offline
(no build isolation: setuptools and Babel come from the dev environment), to see that it
ships a compiled catalog for every required language.
"""

from __future__ import annotations

import gettext
import io
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from bot.i18n import DOMAIN, REQUIRED, catalog_id

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


# -- compiled catalogs ------------------------------------------------------------------------

STAND_IN = ("Generate images from a text prompt", "stand-in translation")
"""Translated in a stand-in catalog for a required language that has no ``.po`` yet."""


def _source_copy(target: Path) -> Path:
    """What a build reads (the Docker build context's files), without compiled catalogs."""
    target.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, target / name)
    for package in ("bot", "cogs"):
        shutil.copytree(
            REPO / package,
            target / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.py[cod]", "*.mo"),
        )
    return target


def test_a_wheel_ships_a_compiled_catalog_for_every_required_language(tmp_path: Path) -> None:
    source = _source_copy(tmp_path / "src")
    locales = source / "bot" / "i18n" / "locales"
    expected: dict[str, tuple[str, str]] = {}
    for code in REQUIRED:
        catalog_name = catalog_id(code)
        po = locales / catalog_name / "LC_MESSAGES" / f"{DOMAIN}.po"
        if po.exists():  # the real catalog: its first translated text must come through
            parsed = read_po(po.open("rb"), locale=catalog_name)
            found = next((m for m in parsed if m.id and m.string and not m.fuzzy), None)
            assert found is not None, f"{po} translates nothing"
            msgid, msgstr = found.id, found.string
            if isinstance(msgid, tuple):
                msgid, msgstr = msgid[0], msgstr[0]
            expected[catalog_name] = (str(msgid), str(msgstr))
            continue
        stand_in = Catalog(locale=catalog_name, domain=DOMAIN)
        stand_in.add(*STAND_IN)
        po.parent.mkdir(parents=True)
        with po.open("wb") as out:
            write_po(out, stand_in)
        expected[catalog_name] = STAND_IN
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(wheels), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = wheels.glob("imagine_bot-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for catalog_name, (msgid, msgstr) in expected.items():
            mo = f"bot/i18n/locales/{catalog_name}/LC_MESSAGES/{DOMAIN}.mo"
            assert mo in names, f"the wheel has no compiled catalog for {catalog_name}"
            assert mo.removesuffix(".mo") + ".po" in names, "the source ships too"
            translations = gettext.GNUTranslations(io.BytesIO(archive.read(mo)))
            assert translations.gettext(msgid) == msgstr
    compiled = {name for name in names if name.endswith(".mo")}
    assert compiled == {name.removesuffix(".po") + ".mo" for name in names if name.endswith(".po")}


def test_compiled_catalogs_are_never_committed() -> None:
    ignored = (REPO / ".gitignore").read_text().splitlines()
    assert "*.mo" in ignored
    assert "**/*.mo" in (REPO / ".dockerignore").read_text().splitlines()
    requires = PYPROJECT["build-system"]["requires"]
    assert any(_name(r) == "babel" for r in requires), "the build compiles with Babel"
    assert {"i18n/locales/**/*.mo", "i18n/locales/**/*.po"} <= set(
        PYPROJECT["tool"]["setuptools"]["package-data"]["bot"]
    )
