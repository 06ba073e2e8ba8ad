"""No member-facing text is written outside the catalog (issue 14).

Every text a member reads in Discord is an English msgid said through a ``Speech``
(``s.gettext``/``s.ngettext``), marked with ``N_`` where it is defined away from where it
is shown, or ``locale_str`` for command descriptions and choices. This walks the code's
syntax tree (``ast``) for string literals that look like prose (two letters, a space and a
letter; or an emoji) passed to what Discord shows (message content, embed titles,
descriptions, fields, footers and authors, button, select and text-box labels and
placeholders, dialog titles, choice names, command and option descriptions), and for the
texts ``cogs/common/messages.py``
returns, unless they are inside one of those calls. A UI label (a button's, a dialog's)
counts even as one word.

A text that must stay as it is (the bot reads it back after a restart, a product name)
says so at the end of its line: ``# untranslated: <why>``.
"""

from __future__ import annotations

import ast
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(REPO / "cogs").rglob("*.py"), *(REPO / "bot").rglob("*.py")])
MESSAGES = REPO / "cogs" / "common" / "messages.py"

TRANSLATED = frozenset({"gettext", "ngettext", "pgettext", "npgettext", "N_", "locale_str"})
"""Calls whose string arguments are catalog msgids (the extraction keywords)."""
EXEMPT = "# untranslated:"

# What Discord shows, by call name: which positional argument and which keywords.
CONTENT = (0, {"content"})
SINKS: dict[str, tuple[int | None, set[str]]] = {
    "send_message": CONTENT,
    "send": CONTENT,
    "reply": CONTENT,
    "edit": (None, {"content"}),
    "edit_message": (None, {"content"}),
    "edit_original_response": (None, {"content"}),
    "send_ephemeral": (1, {"text"}),
    "_reply": (1, {"text"}),
    "_answer_instead": (1, {"text"}),
    "Embed": (None, {"title", "description"}),
    "add_field": (None, {"name", "value"}),
    "insert_field_at": (None, {"name", "value"}),
    "set_field_at": (None, {"name", "value"}),
    "set_footer": (None, {"text"}),
    "set_author": (None, {"name"}),
    "Button": (None, {"label"}),
    "button": (None, {"label"}),
    "TextInput": (None, {"label", "placeholder", "default"}),
    "Select": (None, {"placeholder"}),
    "SelectOption": (None, {"label", "description"}),
    "select": (None, {"placeholder"}),
    "Modal": (None, {"title"}),
    "Choice": (None, {"name"}),
    "command": (None, {"description"}),
    "Group": (None, {"description"}),
}
EVERY_KEYWORD = frozenset({"describe"})
"""``@app_commands.describe(option="…")``: every keyword is an option's description."""
LABELS = frozenset({"label", "placeholder", "title", "name", "description"})
"""Labels and descriptions: even one word is something to translate ("Cancel", "Seed")."""

PROSE = re.compile(r"[^\W\d_]{2}[^\W\d_]*\s+[^\W\d_]")
WORD = re.compile(r"[^\W\d_]{2}")


def has_emoji(text: str) -> bool:
    return any(unicodedata.category(ch) == "So" and ord(ch) > 0x2100 for ch in text)


def literal_text(node: ast.expr) -> str | None:
    """The literal words of a str constant or an f-string (its fixed parts)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return " ".join(
            part.value
            for part in node.values
            if isinstance(part, ast.Constant) and isinstance(part.value, str)
        )
    return None


def call_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def literals(node: ast.expr) -> Iterator[tuple[ast.expr, str]]:
    """The literal texts an expression shows, not looking inside translated calls."""
    text = literal_text(node)
    if text is not None:
        yield node, text
        return
    if isinstance(node, ast.Call) and call_name(node) in TRANSLATED:
        return
    if isinstance(node, ast.Subscript):  # labels["prompt"]: a key is no text
        yield from literals(node.value)
        return
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.expr) and not isinstance(child, ast.Lambda):
            yield from literals(child)


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    text: str
    where: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}: {self.text!r} ({self.where})"


def looks_like_prose(text: str, *, label: bool) -> bool:
    return bool(PROSE.search(text) or has_emoji(text) or (label and WORD.search(text)))


class Checker(ast.NodeVisitor):
    def __init__(self, path: Path, source: str) -> None:
        self.path = path
        self.lines = source.splitlines()
        self.findings: list[Finding] = []
        self._function_depth = 0

    def exempt(self, node: ast.expr) -> bool:
        last = getattr(node, "end_lineno", None) or node.lineno
        return any(EXEMPT in self.lines[n - 1] for n in range(node.lineno, last + 1))

    def check(self, node: ast.expr, where: str, *, label: bool = False) -> None:
        for found, text in literals(node):
            if looks_like_prose(text, label=label) and not self.exempt(found):
                self.findings.append(Finding(self.path, found.lineno, text, where))

    def visit_Call(self, node: ast.Call) -> None:
        name = call_name(node)
        if name in SINKS or name in EVERY_KEYWORD:
            position, keywords = SINKS.get(name, (None, set()))
            if position is not None and len(node.args) > position:
                self.check(node.args[position], f"{name}(…)")
            for keyword in node.keywords:
                if keyword.arg in keywords or name in EVERY_KEYWORD:
                    label = keyword.arg in LABELS or name in EVERY_KEYWORD
                    self.check(keyword.value, f"{name}({keyword.arg}=…)", label=label)
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for keyword in node.keywords:  # class EditModal(discord.ui.Modal, title="…")
            if keyword.arg in ("title", "group_description"):
                self.check(keyword.value, f"class {node.name}(title=…)", label=True)
        self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> None:
        if self.path == MESSAGES and node.value is not None:
            self.check(node.value, "returned by a message function")
        self.generic_visit(node)


def findings_in(path: Path) -> list[Finding]:
    source = path.read_text(encoding="utf-8")
    checker = Checker(path, source)
    checker.visit(ast.parse(source, filename=str(path)))
    return checker.findings


def test_every_member_facing_text_goes_through_the_catalog() -> None:
    found = [str(f) for path in SOURCES for f in findings_in(path)]
    assert found == [], (
        "Texts members read that are not in the catalog. Say each through the reader's "
        "Speech, s.gettext(...) or s.ngettext(...) (N_(...) where it is defined away from "
        "where it is shown, locale_str(...) for command descriptions and choices), then "
        "extract the template again (docs/translating.md). If one must stay as written "
        "(the bot reads it back, a name), end its line with '# untranslated: <why>'.\n"
        + "\n".join(found)
    )


# -- the check itself: it finds what it should, and only that ---------------------------------

CAUGHT = {
    'await interaction.response.send_message("Nothing was saved.", ephemeral=True)': 1,
    'await channel.send(f"Removed {x} from the list.")': 1,
    'await message.edit(content="✅")': 1,
    'embed = discord.Embed(title="Image settings", description=text)': 1,
    'embed.add_field(name="Blocked words", value="none at all")': 2,
    'embed.add_field(name="Seed", value=f"`{seed}`")': 1,
    'embed.set_footer(text="Limits reset every day")': 1,
    'button = discord.ui.Button(label="Cancel")': 1,
    'field = TextInput(label="Prompt", placeholder="a fox in the snow")': 2,
    "class Dialog(discord.ui.Modal, title='Edit'):\n    pass": 1,
    'choice = Choice(name="high (fastest)", value="high")': 1,
    'await send_ephemeral(interaction, "That button is not valid any more.")': 1,
    'await interaction.followup.send(clip("Too long " + x, 100))': 1,
    '@app_commands.command(name="usage", description="See your images")\ndef f(): pass': 1,
    '@app_commands.describe(prompt="What to draw", seed="A seed")\ndef f(): pass': 2,
    "class Quota(commands.GroupCog, group_name='quota', group_description='Set limits'):\n"
    "    pass": 1,
}
PASSED = [
    'await interaction.response.send_message(s.gettext("Nothing was saved."))',
    'embed.add_field(name=s.gettext("Seed"), value=f"`{seed}`")',
    'embed.set_footer(text=f"FLUX.1 SRPO · generation #{gid}")  # untranslated: recovery',
    'button = discord.ui.Button(label=s.gettext("Cancel"), custom_id=f"job:cancel:{gid}")',
    'choice = Choice(name=locale_str("high (fastest)"), value="high")',
    'TEXTS = {"reroll": N_("Re-roll")}',
    'await channel.send(content, file=discord.File(data, filename="usage.png"))',
    'log.warning("could not post the log entry in %s", guild)',
    'embed.add_field(name=s.gettext("Size"), value=f"{width}×{height}")',
    'field = TextInput(label=labels["prompt"], custom_id="prompt")',
    '@app_commands.command(name="usage", description=locale_str("See your images"))\ndef f(): pass',
]


@pytest.mark.parametrize("code", list(CAUGHT))
def test_the_check_finds_prose_sent_to_discord(code: str, tmp_path: Path) -> None:
    path = tmp_path / "example.py"
    path.write_text(code + "\n")
    checker = Checker(path, code)
    checker.visit(ast.parse(code))
    assert len(checker.findings) == CAUGHT[code], checker.findings


@pytest.mark.parametrize("code", PASSED)
def test_the_check_lets_catalog_texts_and_non_prose_pass(code: str, tmp_path: Path) -> None:
    checker = Checker(tmp_path / "example.py", code)
    checker.visit(ast.parse(code))
    assert checker.findings == []


def test_messages_functions_return_catalog_texts_only() -> None:
    code = 'def refusal(s):\n    return "You cannot do that here."\n'
    checker = Checker(MESSAGES, code)
    checker.visit(ast.parse(code))
    assert [f.text for f in checker.findings] == ["You cannot do that here."]
