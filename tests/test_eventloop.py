"""EVENT_LOOP: uvloop where it comes with the bot (Linux), else or on request asyncio's loop."""

from __future__ import annotations

import asyncio
import importlib.util
import sys

import pytest

from bot.config import ConfigError, EventLoop, settings_from_mapping
from bot.eventloop import chosen, loop_factory, running_loop_name

REQUIRED = {"DISCORD_TOKEN": "MTIz.fake.token", "SIRAYA_API_KEY": "sk-test"}
on_linux = pytest.mark.skipif(sys.platform != "linux", reason="uvloop comes with the bot on Linux")


def loop_name(setting: EventLoop) -> str:
    with asyncio.Runner(loop_factory=loop_factory(setting)) as runner:
        return runner.run(_name())


async def _name() -> str:
    return running_loop_name()


@on_linux
def test_auto_runs_uvloop_on_linux_where_it_is_installed() -> None:
    assert chosen(EventLoop.AUTO) is EventLoop.UVLOOP
    assert loop_name(EventLoop.AUTO) == "uvloop"
    assert loop_name(EventLoop.UVLOOP) == "uvloop"


def test_auto_is_the_standard_loop_elsewhere_and_asyncio_always_is() -> None:
    assert chosen(EventLoop.AUTO, platform="darwin") is EventLoop.ASYNCIO
    assert chosen(EventLoop.AUTO, platform="win32") is EventLoop.ASYNCIO
    assert loop_name(EventLoop.ASYNCIO) == "asyncio"


def test_auto_without_uvloop_installed_is_the_standard_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvloop" else real(name, *a)
    )
    assert chosen(EventLoop.AUTO, platform="linux") is EventLoop.ASYNCIO
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping({**REQUIRED, "EVENT_LOOP": "uvloop"})
    assert str(caught.value).startswith("EVENT_LOOP")
    assert "not installed" in str(caught.value) and "EVENT_LOOP=auto or asyncio" in str(
        caught.value
    )


@on_linux
def test_auto_with_a_uvloop_that_does_not_import_is_the_standard_loop(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A uvloop found on disk that fails to load (a venv copied to another libc, a broken
    # build): the bot still starts, on asyncio's loop; only EVENT_LOOP=uvloop insists.
    from pathlib import Path

    broken = Path(str(tmp_path)) / "uvloop"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ImportError('built for another machine')\n")
    monkeypatch.syspath_prepend(str(broken.parent))
    monkeypatch.delitem(sys.modules, "uvloop", raising=False)

    assert loop_name(EventLoop.AUTO) == "asyncio"
    with pytest.raises(ImportError):
        loop_factory(EventLoop.UVLOOP)
