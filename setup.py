"""Build hook: every gettext catalog (``.po``) is compiled into the ``.mo`` the bot reads.

Everything else about the package is in pyproject.toml. Wheels (and so the Docker image,
which installs one) carry the compiled catalogs; ``.mo`` files are never committed. An
editable install needs none: ``bot.i18n`` compiles a ``.po`` in memory when no ``.mo``
made from it is there. Babel is a build requirement for this (``[build-system]``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
LOCALES = Path("bot", "i18n", "locales")


class BuildWithCatalogs(build_py):
    """``build_py``, then each ``locales/<catalog>/LC_MESSAGES/*.po`` compiled beside it."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # the source tree is used as it is; bot.i18n reads the .po
        sys.path.insert(0, str(HERE))
        try:
            from bot.i18n import compile_po
        finally:
            sys.path.remove(str(HERE))
        for po in sorted((HERE / LOCALES).glob("*/LC_MESSAGES/*.po")):
            relative = po.relative_to(HERE)
            target = Path(self.build_lib, relative).with_suffix(".mo")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(compile_po(po.read_bytes(), relative.parts[-3]))
            self.announce(f"compiled {relative} into {target}", level=2)


setup(cmdclass={"build_py": BuildWithCatalogs})
