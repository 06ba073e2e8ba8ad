"""/quota view's "Recent changes": every kind of change reads as a line a moderator
understands, never as the store's action name, and what a moderator typed is shown as
typed (a style's markdown cannot restyle the overview)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.i18n import ENGLISH, speech
from bot.store.base import AuditAction, AuditEntry
from cogs.common.messages import audit_line

AT = datetime(2025, 3, 14, 12, tzinfo=UTC)
STAMP = f"<t:{int(AT.timestamp())}:R> <@7>"


def entry(action: AuditAction, old: str | None = None, new: str | None = None) -> AuditEntry:
    return AuditEntry(
        id=1,
        guild_id=1,
        actor_id=7,
        action=action,
        target_id=42,
        old_value=old,
        new_value=new,
        at=AT,
    )


@pytest.mark.parametrize(
    ("change", "line"),
    [
        (entry(AuditAction.MEMBER_LIMIT, None, "1500"), "member limit of <@42>: — → 1,500"),
        (entry(AuditAction.ROLE_LIMIT, "3", None), "role limit of <@&42>: 3 → —"),
        (entry(AuditAction.DEFAULT_LIMIT, "7", "6"), "server default: 7 → 6"),
        (entry(AuditAction.SERVER_BUDGET, None, "0"), "server budget: — → 0"),
        (entry(AuditAction.RESET_USAGE, "2", "0"), "today's usage of <@42>: 2 → 0"),
        (entry(AuditAction.ALLOW_CHANNEL), "allowed <#42>"),
        (entry(AuditAction.DISALLOW_CHANNEL), "disallowed <#42>"),
        (entry(AuditAction.BLOCK_WORD, None, "secret"), "added a blocked word"),
        (entry(AuditAction.UNBLOCK_WORD, "secret"), "removed a blocked word"),
        (entry(AuditAction.NSFW_SAFETY, None, "off"), "NSFW safety checker: — → off"),
        (entry(AuditAction.LOG_CHANNEL, None, "9"), "moderation log: off → <#9>"),
        (
            entry(AuditAction.LANGUAGE, None, "pt-BR"),
            "language of public messages: the server's own → Português (Brasil)",
        ),
        (
            entry(AuditAction.LANGUAGE, "ja", None),
            "language of public messages: 日本語 → the server's own",
        ),
        (
            entry(AuditAction.ADD_STYLE, None, "Ink: **bold**"),
            "added the style Ink: \\*\\*bold\\*\\*",
        ),
        (entry(AuditAction.ADD_STYLE, "old text", "Ink: wash"), "updated the style Ink: wash"),
        (entry(AuditAction.REMOVE_STYLE, "Ink"), "removed the style Ink"),
    ],
)
def test_every_change_reads_as_a_line(change: AuditEntry, line: str) -> None:
    assert audit_line(ENGLISH, change) == f"{STAMP} {line}"


def test_every_action_has_its_own_words() -> None:
    for action in AuditAction:
        shown = audit_line(ENGLISH, entry(action, "1", "2"))
        assert action.value not in shown, shown


def test_numbers_are_written_for_the_reader() -> None:
    line = audit_line(speech("de"), entry(AuditAction.SERVER_BUDGET, "1000", "25000"))
    assert "1.000" in line and "25.000" in line, line  # whatever the German wording
