"""Every text and embed a member reads, built in one place.

Keeping the wording here means the tone is consistent and Discord's length limits
(content 2000, embed description 4096, field value 1024, 6000 per message) are
handled once instead of at every call site.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from decimal import Decimal

import discord
from babel.dates import format_skeleton
from babel.numbers import format_currency

from bot.i18n import N_, Speech
from bot.jobs import remix
from bot.jobs.service import CancelOutcome, ChannelNotAllowed, Job, Missing, PromptBlocked
from bot.policy.quota import EffectiveLimit, LimitRefused, LimitSource, LimitTooHigh
from bot.policy.rules import BlockedWordRefused, BlockedWordsFull, BlockedWordTooLong
from bot.policy.spend import cents
from bot.policy.styles import (
    MAX_STYLES_PER_GUILD,
    StyleEmpty,
    StyleRefused,
    StylesFull,
    StyleTooLong,
)
from bot.reports import ChartText
from bot.siraya import (
    DEFAULT_GUIDANCE,
    DEFAULT_SIZE,
    DEFAULT_STEPS,
    ErrorKind,
    GenerationRequest,
    SirayaError,
)
from bot.store.base import (
    AuditAction,
    AuditEntry,
    DailyTotal,
    GenerationParams,
    GenerationRecord,
    GenerationStatus,
    GuildPolicy,
    MemberTotal,
    Preferences,
    QuotaExceeded,
    Reach,
    Style,
    UsageSummary,
)

log = logging.getLogger(__name__)

CONTENT_LIMIT = 2000
EMBED_DESCRIPTION_LIMIT = 4096
FIELD_VALUE_LIMIT = 1024
BRAND_COLOUR = discord.Colour(0x7C5CFF)
ERROR_COLOUR = discord.Colour(0xE5484D)
NOT_CHARGED = "You were not charged for it."


def clip(text: str, limit: int) -> str:
    """Shorten ``text`` to ``limit`` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- echoing what members typed ------------------------------------------------------------

_MARKDOWN = re.compile(r"([\\*_~|`>#\-\[\]()<@])|^(\s*\d+)\.", re.MULTILINE)
"""Every character Discord's markdown gives a meaning (emphasis, spoilers, code, quotes,
headings, lists, masked links, mentions and timestamps ``<…>``), and an ordered list's
``1.`` at the start of a line. A backslash before any of them shows it as typed."""

_URL = re.compile(r"(?:https?|steam)://[^\s<]+[^<.,:;\"'\]\s]")
"""A bare link as Discord spots one: left untouched, because a backslash inside a link
would be shown (and followed) as part of it."""

_FENCE_BREAK = re.compile(r"(?<=``)(?=`)")


def _escape(text: str) -> str:
    def escape_part(part: str) -> str:
        return _MARKDOWN.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\.", part)

    pieces: list[str] = []
    end = 0
    for link in _URL.finditer(text):
        pieces += [escape_part(text[end : link.start()]), link[0]]
        end = link.end()
    pieces.append(escape_part(text[end:]))
    return "".join(pieces)


def typed(text: str, limit: int) -> str:
    """Member-written text (a prompt, a style) shown exactly as typed, within ``limit``.

    Escaped, so the bot never authors a masked link, heading, list, spoiler, mention or
    code block because of what someone typed; cut on the unescaped text, so a cut never
    leaves half an escape.
    """
    shown = _escape(text)
    if len(shown) <= limit:
        return shown
    low, high = 0, len(text)
    while low < high:  # the longest start of ``text`` whose escaped form fits
        middle = (low + high + 1) // 2
        if len(_escape(text[:middle])) <= limit - 1:
            low = middle
        else:
            high = middle - 1
    return _escape(text[:low]) + "…"


def one_line(text: str) -> str:
    """Text for a one-line list entry: a dialog's line breaks would break the list."""
    return " ".join(text.splitlines())


def code_block(text: str, limit: int) -> str:
    """``text`` in a code block that its own backticks cannot close.

    Inside a block nothing is rendered, so nothing needs escaping except a run of three
    backticks, which would end it: a zero-width space after every second backtick keeps
    the run looking the same.
    """
    body = clip(_FENCE_BREAK.sub("\u200b", text), limit - 8)
    return f"```\n{body}\n```"


def relative_time(moment: datetime) -> str:
    """A Discord timestamp that every member sees in their own time zone."""
    return f"<t:{int(moment.timestamp())}:R>"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def quota_exceeded(error: QuotaExceeded, *, has_count_option: bool = True) -> str:
    """Why a request does not fit today. ``has_count_option`` is False for buttons and
    dialogs, which have no ``count`` to lower."""
    reset = relative_time(error.reset_at)
    if error.scope == "server":
        if error.remaining <= 0:
            return (
                f"This server has used its whole daily budget of {plural(error.limit, 'image')}. "
                f"It resets {reset}."
            )
        return (
            f"This server has only {plural(error.remaining, 'image')} left in today's budget, "
            f"and you asked for {error.requested}. Ask for fewer, or wait until it resets {reset}."
        )
    if error.limit == 0:
        return "You are not allowed to generate images on this server."
    if error.remaining <= 0:
        return (
            f"You have used all {plural(error.limit, 'image')} of your daily limit. "
            f"It resets {reset}."
        )
    fewer = f"Lower `count` to {error.remaining}" if has_count_option else "Ask for fewer"
    return (
        f"You have {plural(error.remaining, 'image')} left today (limit {error.limit}), "
        f"and you asked for {error.requested}. {fewer}, "
        f"or wait until your limit resets {reset}."
    )


def refusal(error: Exception) -> str:
    """A refusal from the core, in the member's terms (channel names become links)."""
    if isinstance(error, PromptBlocked):
        matched = typed(error.matched, 200)
        return f"Your prompt contains “{matched}”, which this server does not allow."
    if isinstance(error, ChannelNotAllowed) and error.allowed_channel_ids:
        where = ", ".join(f"<#{channel}>" for channel in error.allowed_channel_ids[:10])
        return f"{error} Try {where}."
    return str(error)


def api_failure(error: SirayaError) -> str:
    """What the member reads when the image API let us down; never the raw exception."""
    kind = error.kind
    if kind is ErrorKind.REFUSED:
        text = (
            "🚫 The image service refused this prompt under its content policy. Try rewording it."
        )
    elif kind is ErrorKind.OUT_OF_CREDIT:
        text = (
            "⏸️ Image generation is paused: the bot's image-service account is out of credit. "
            "The bot owner has been alerted."
        )
    elif kind is ErrorKind.AUTH:
        text = (
            "🔧 The bot is misconfigured: the image service rejected its API key. "
            "The bot owner has been alerted."
        )
    elif kind is ErrorKind.RATE_LIMITED:
        text = (
            "🚦 The image service is too busy right now; I retried a few times and gave up. "
            "Please try again in a minute."
        )
    elif kind is ErrorKind.TIMEOUT:
        text = "⌛ The image service took too long to answer. Please try again."
    elif kind is ErrorKind.BAD_REQUEST:
        detail = typed(error.api_message or "no reason given", 300)
        text = f"⚠️ The image service rejected these settings: {detail}"
    elif kind is ErrorKind.BAD_RESPONSE:
        text = "⚠️ The image service sent back something that is not a usable image. Try again."
    else:
        text = "⚠️ The image service is having trouble at the moment. Please try again shortly."
    return f"{text} {NOT_CHARGED}"


MISSING_REASON = {
    ErrorKind.REFUSED: "the image service refused it under its content policy",
    ErrorKind.OUT_OF_CREDIT: "the image-service account ran out of credit",
    ErrorKind.AUTH: "the image service rejected the bot's API key",
    ErrorKind.RATE_LIMITED: "the image service was too busy",
    ErrorKind.TIMEOUT: "the image service took too long",
    ErrorKind.BAD_RESPONSE: "the image service sent back something unusable",
}


def images_missing(missing: list[Missing], *, delivered: int) -> str | None:
    """The line above a result some of whose images never came: which, and that only the
    images shown were charged. None when every image arrived."""
    if not missing:
        return None
    which = ", ".join(f"image {m.number} (seed `{m.seed}`)" for m in missing)
    reasons = {MISSING_REASON.get(m.error.kind, "the image service had trouble") for m in missing}
    total = delivered + len(missing)
    return clip(
        f"⚠️ {delivered} of {total} images arrived: {which} could not be made "
        f"({'; '.join(sorted(reasons))}). You were charged for {plural(delivered, 'image')}, "
        f"not {total}.",
        CONTENT_LIMIT,
    )


def file_size(size: int) -> str:
    """A byte count as people read it: 10 MiB, 6.2 MiB, 60 KiB, 100 bytes."""
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return plural(size, "byte")


def too_large_for_channel(limit_bytes: int) -> str:
    return (
        f"📦 The image is larger than this channel's upload limit "
        f"({file_size(limit_bytes)} per image), even after compressing it. "
        f"Try a smaller size. {NOT_CHARGED}"
    )


def delivery_failed() -> str:
    return f"⚠️ The image was made but I could not post it here. {NOT_CHARGED}"


def unexpected_error() -> str:
    return "😵 Something went wrong on my side. It has been logged; please try again."


def unexpected_failure() -> str:
    """A generation that broke in a way nobody foresaw, once it has been refunded."""
    return f"😵 Something went wrong on my side. It has been logged. {NOT_CHARGED}"


def progress(job: Job, *, position: int, elapsed: float) -> str:
    images = plural(job.request.count, "image")
    if position > 0:
        return f"⏳ Waiting for a free slot: you are number {position} in line. ({images})"
    return f"🎨 Generating {images}… {int(elapsed)} s"


def image_filename(generation_id: int, number: int, extension: str) -> str:
    """An image's file name under a result: its generation and its number (image k = U<k>),
    which is how a U button finds it again in the message."""
    return f"imagine-{generation_id}-{number}.{extension}"


_IMAGE_FILENAME = re.compile(r"imagine-(?P<id>[0-9]+)-(?P<number>[1-9])\.[a-z]+")


def image_number(filename: str, generation_id: int) -> int | None:
    """The image number a result's attachment name says, if it is one of this generation's."""
    match = _IMAGE_FILENAME.fullmatch(filename)
    if match is None or int(match["id"]) != generation_id:
        return None
    return int(match["number"])


def seeds_value(seeds: list[tuple[int, int]]) -> str:
    """Each image's seed by its number, as the U buttons name the images."""
    if len(seeds) == 1:
        return f"`{seeds[0][1]}`"
    return " · ".join(f"U{number}\u00a0`{seed}`" for number, seed in seeds)  # kept together


def result_embeds(
    job: Job,
    *,
    filenames: list[str],
    seeds: list[tuple[int, int]] | None = None,
    elapsed: float,
    requester_name: str,
    requester_avatar: str | None,
    source_url: str | None = None,
) -> list[discord.Embed]:
    """The embed(s) under a result; several images share one URL so Discord shows a gallery."""
    request = job.request
    gallery_url = f"https://imagine.invalid/generation/{job.generation_id}"
    main = discord.Embed(
        description=typed(request.prompt, EMBED_DESCRIPTION_LIMIT),
        colour=BRAND_COLOUR,
        url=gallery_url if len(filenames) > 1 else None,
    )
    main.set_author(name=clip(f"Requested by {requester_name}", 256), icon_url=requester_avatar)
    for name, value in settings_fields(request, seeds):
        main.add_field(name=name, value=value, inline=len(seeds or ()) <= 1 or name != "Seeds")
    main.add_field(name="Time", value=f"{elapsed:.1f} s", inline=True)
    if source_url and job.parent_id is not None:
        main.add_field(
            name="Made from", value=f"[generation #{job.parent_id}]({source_url})", inline=True
        )
    main.set_footer(text=generation_footer(job.generation_id))
    if filenames:
        main.set_image(url=f"attachment://{filenames[0]}")
    embeds = [main]
    for filename in filenames[1:]:
        extra = discord.Embed(url=gallery_url, colour=BRAND_COLOUR)
        extra.set_image(url=f"attachment://{filename}")
        embeds.append(extra)
    return embeds


def generation_footer(generation_id: int) -> str:
    """The footer of every result; also how a restarted bot recognises a posted result."""
    return f"FLUX.1 SRPO · generation #{generation_id}"


def picked_footer(generation_id: int, number: int) -> str:
    """The footer of a picked image: unlike a result's, so recovery never mistakes it for one."""
    return f"{generation_footer(generation_id)} · image {number}"


def picked_embed(
    record: GenerationRecord,
    params: GenerationParams,
    *,
    number: int,
    filename: str,
    picked_by: str,
    source_url: str | None,
) -> discord.Embed:
    """One image of a result, alone and full size, with the settings that make it again."""
    embed = discord.Embed(
        description=typed(params.prompt, EMBED_DESCRIPTION_LIMIT), colour=BRAND_COLOUR
    )
    embed.set_author(name=clip(f"Image {number}, picked by {picked_by}", 256))
    for name, value in settings_fields(remix.request_from(params)):
        embed.add_field(name=name, value=value, inline=True)
    if source_url:
        embed.add_field(name="From", value=f"[generation #{record.id}]({source_url})", inline=True)
    embed.set_image(url=f"attachment://{filename}")
    embed.set_footer(text=picked_footer(record.id, number))
    return embed


def pick_refused(owner_id: int) -> str:
    return (
        f"Only <@{owner_id}>, who asked for these images, or a moderator can pick one. "
        "Click an image to see it full size."
    )


def pick_failed() -> str:
    return "⚠️ I could not fetch that image from Discord just now. Please try again."


def edit_title(number: int | None) -> str:
    """The Edit dialog's title (45 characters at most); a picked image keeps its seed."""
    if number is None:
        return "Edit and generate again"
    return f"Edit image {number}: same seed, close variation"


def edit_seed_label(number: int | None) -> str:
    """The seed box's label (45 characters at most)."""
    if number is None:
        return "Seed (empty for a random one)"
    return "Seed (kept: a new prompt stays close to it)"


_FOOTER_ID = re.compile(r"FLUX\.1 SRPO · generation #([0-9]{1,19})(?: · image ([0-9]{1,2}))?")


def result_in_footer(footer: str | None) -> tuple[int, int | None] | None:
    """The generation id a result's footer names (``generation_footer``), and the image
    number if it is a picked image (``picked_footer``); None for any other footer."""
    match = _FOOTER_ID.fullmatch(footer or "")
    if match is None:
        return None
    return int(match[1]), None if match[2] is None else int(match[2])


def posted_below(jump_url: str) -> str:
    """The progress line, once the result had to go out as a new message."""
    return f"✅ Your image is ready: {jump_url}"


def told_in_private(channel_id: int, text: str) -> str:
    """An outcome sent as a direct message, when the channel could not take it."""
    return clip(f"About your request in <#{channel_id}>: {text}", CONTENT_LIMIT)


def ready_in_channel(mention: str, note: str | None = None) -> str:
    ready = f"{mention}, your image is ready."
    return ready if note is None else clip(f"{ready}\n{note}", CONTENT_LIMIT)


def personal_use_off() -> str:
    return "🏠 This bot only makes images inside servers it is in. Try it there!"


def personal_use_members_only() -> str:
    return (
        "🔒 Outside servers, this bot is only for members of a server it is in. "
        "Join one of them, or use it there."
    )


def too_late_to_deliver() -> str:
    """A job whose only way to the member (its interaction, 15 minutes) ran out before it
    could be made: refunded without generating."""
    return (
        "⏳ Your image could not be made in time: here I can only answer within Discord's "
        "15-minute window, and it ran out while your request waited. Please try again. "
        "You were not charged."
    )


def finishing_too_late(minutes: int) -> str:
    """Refused up front where only the interaction can deliver: its token lasts 15 minutes."""
    return (
        f"⏳ The bot is too busy to finish your image within Discord's {minutes}-minute "
        "window here, and it cannot post here any other way. Please try again later. "
        "You were not charged."
    )


def private_result_dismiss() -> str:
    return (
        "🔒 Only you can see this result here (a server's moderation log may record it). "
        "To remove it, use **Dismiss message** under it."
    )


def cancelled() -> str:
    return f"🛑 Cancelled before it started. {NOT_CHARGED}"


def settings_fields(
    request: GenerationRequest, seeds: list[tuple[int, int]] | None = None
) -> list[tuple[str, str]]:
    """The settings that reproduce an image, as (name, value) pairs; ``seeds`` gives each
    image's seed by its number (image k was asked for alone with its own seed)."""
    seed = ("Seed", f"`{request.seed}`")
    if seeds:
        seed = ("Seed" if len(seeds) == 1 else "Seeds", seeds_value(seeds))
    return [
        seed,
        ("Size", request.size_label),
        ("Steps", str(request.steps)),
        ("Guidance", exact_number(request.guidance)),
        ("Acceleration", request.acceleration),
        ("Safety checker", "on" if request.enable_safety_checker else "off"),
        *style_field(request.style_name),
    ]


def style_field(name: str | None) -> list[tuple[str, str]]:
    """The "Style" field of a result or Info, when a server style was used."""
    return [] if not name else [("Style", typed(name, 100))]


def error_embed(text: str) -> discord.Embed:
    return discord.Embed(description=clip(text, EMBED_DESCRIPTION_LIMIT), colour=ERROR_COLOUR)


# -- quotas ------------------------------------------------------------------------------

LIMIT_SOURCE_TEXT = {
    LimitSource.MEMBER: N_("a limit a moderator set for you"),
    # TRANSLATORS: {role} is a role mention, e.g. @Artists.
    LimitSource.ROLE: N_("your role {role}"),
    LimitSource.SERVER_DEFAULT: N_("this server's default"),
    LimitSource.BOT_DEFAULT: N_("the bot's default"),
}
"""Where a member's own limit comes from, as ``/usage`` tells them."""

MEMBER_LIMIT_SOURCE_TEXT = {
    LimitSource.MEMBER: N_("a limit a moderator set for them"),
    # TRANSLATORS: {role} is a role mention, e.g. @Artists.
    LimitSource.ROLE: N_("the role {role}"),
    LimitSource.SERVER_DEFAULT: N_("this server's default"),
    LimitSource.BOT_DEFAULT: N_("the bot's default"),
}
"""The same, about another member, as ``/quota view member:`` tells a moderator."""


def limit_source(s: Speech, limit: EffectiveLimit, *, own: bool = True) -> str:
    """Where ``limit`` comes from; ``own``: said to its member ("your"), else about them."""
    text = (LIMIT_SOURCE_TEXT if own else MEMBER_LIMIT_SOURCE_TEXT)[limit.source]
    return s.gettext(text, role=f"<@&{limit.role_id}>") if limit.role_id else s.gettext(text)


def limit_value(s: Speech, limit: int | None) -> str:
    if limit is None:
        # TRANSLATORS: a daily limit nobody set.
        return s.gettext("not set")
    if limit == 0:
        # TRANSLATORS: a daily limit of 0 images, which blocks generating.
        return s.gettext("blocked (0)")
    return s.ngettext("{count} image", "{count} images", limit)


def money(s: Speech, pico: int) -> str:
    """An estimated cost in US dollars, rounded to the cent as ``dollars`` rounds it,
    written as the reader's locale writes dollars (``$1,234.50``, ``1.234,50 $``)."""
    rounded = cents(pico)
    if pico > 0 and rounded == 0:
        smallest = format_currency(Decimal("0.01"), "USD", locale=s.locale)
        # TRANSLATORS: "less than {amount}": a cost that rounds to less than one cent.
        return s.gettext("<{amount}", amount=smallest)
    return format_currency(rounded, "USD", locale=s.locale)


def usage_embed(
    s: Speech,
    summary: UsageSummary,
    *,
    server_spend_pico: int | None = None,
    personal: bool = False,
) -> discord.Embed:
    """``/usage``: where a member stands today, in one glance.

    ``server_spend_pico`` is given for moderators when a price is set: the server's
    estimated spend today. ``personal``: asked outside the bot's servers, where the one
    personal quota applies (the bot's DM, group DMs, servers without the bot).
    """
    limit = summary.limit
    embed = discord.Embed(title=s.gettext("Your images today"), colour=BRAND_COLOUR)
    if limit.blocked:
        embed.description = s.gettext("You are not allowed to generate images on this server.")
    else:
        used = s.gettext(
            "**{used}** of **{limit}** used · **{remaining}** left",
            used=s.number(summary.used),
            limit=s.number(limit.limit),
            remaining=s.number(summary.remaining),
        )
        resets = s.gettext("Resets {when}", when=relative_time(summary.reset_at))
        embed.description = f"{used}\n{resets}"
    source = (
        s.gettext(
            "Your personal quota, shared by every place outside the bot's servers "
            "(DMs, group DMs, servers without the bot)"
        )
        if personal
        else limit_source(s, limit)
    )
    embed.add_field(name=s.gettext("Your limit comes from"), value=source, inline=False)
    budget, budget_left = summary.server_budget, summary.server_remaining
    if budget is not None and budget_left is not None:
        embed.add_field(
            name=s.gettext("Server budget today"),
            value=s.gettext(
                "{used} of {budget} used · {remaining} left",
                used=s.number(summary.server_used),
                budget=s.number(budget),
                remaining=s.number(budget_left),
            ),
            inline=False,
        )
    if server_spend_pico is not None:
        embed.add_field(
            name=s.gettext("Server spend today (estimated)"),
            value=s.ngettext(
                "{amount} for {count} image",
                "{amount} for {count} images",
                summary.server_used,
                amount=money(s, server_spend_pico),
            ),
            inline=False,
        )
    return embed


LIMIT_CHANGED_TEXT = {
    AuditAction.MEMBER_LIMIT: (
        # TRANSLATORS: {member} is a mention; {new}, {old}: "5 images", "not set", "blocked (0)".
        N_("Set {member}'s limit to {new} (was {old})."),
        # TRANSLATORS: {member} is a mention; {old}: "5 images", "blocked (0)".
        N_("Removed {member}'s limit (was {old})."),
    ),
    AuditAction.ROLE_LIMIT: (
        # TRANSLATORS: {role} is a mention; {new}, {old}: "5 images", "not set", "blocked (0)".
        N_("Set the limit for {role} to {new} (was {old})."),
        # TRANSLATORS: {role} is a mention; {old}: "5 images", "blocked (0)".
        N_("Removed the limit for {role} (was {old})."),
    ),
    AuditAction.DEFAULT_LIMIT: (
        # TRANSLATORS: {new}, {old}: limits such as "5 images", "not set", "blocked (0)".
        N_("Set the server default to {new} (was {old})."),
        # TRANSLATORS: {old}: a limit such as "5 images" or "blocked (0)".
        N_("Removed the server default (was {old})."),
    ),
    AuditAction.SERVER_BUDGET: (
        # TRANSLATORS: {new}, {old}: budgets such as "500 images", "not set", "blocked (0)".
        N_("Set the server budget to {new} (was {old})."),
        # TRANSLATORS: {old}: a budget such as "500 images" or "blocked (0)".
        N_("Removed the server budget (was {old})."),
    ),
}
"""What a ``/quota set-…`` answers, by the limit it changed: (set, removed)."""


def limit_changed(
    s: Speech, which: AuditAction, old: int | None, new: int | None, *, target: str = ""
) -> str:
    """A ``/quota set-…`` confirmation; ``target`` is the member's or role's mention."""
    set_text, removed_text = LIMIT_CHANGED_TEXT[which]
    fields = {"member": target, "role": target, "old": limit_value(s, old)}
    if new is None:
        return s.gettext(removed_text, **fields)
    return s.gettext(set_text, new=limit_value(s, new), **fields)


def limit_refused(s: Speech, error: LimitRefused) -> str:
    """A daily limit the core refused (``/quota``'s options keep members inside it)."""
    if isinstance(error, LimitTooHigh):
        return s.gettext(
            "⚠️ Nothing changed: a daily limit cannot exceed {maximum}.",
            maximum=s.number(error.maximum),
        )
    return s.gettext("⚠️ Nothing changed: a daily limit cannot be negative (use 0 to block).")


def usage_cleared(s: Speech, cleared: int, member: str) -> str:
    """``/quota reset``: how many of today's images no longer count for ``member``."""
    return s.ngettext(
        "Cleared {count} image from {member}'s usage today.",
        "Cleared {count} images from {member}'s usage today.",
        cleared,
        member=member,
    )


def _audit_number(s: Speech, value: str | None) -> str:
    """A limit or a count as the audit log stored it (digits), written for the reader."""
    if value is None:
        return "—"
    return s.number(int(value)) if value.isdigit() else value


def _audit_switch(s: Speech, value: str | None) -> str:
    if value is None:
        return "—"
    # TRANSLATORS: a setting's state (the safety checker, the moderation log), short.
    return s.gettext("on") if value == "on" else s.gettext("off")


def _audit_channel(s: Speech, value: str | None) -> str:
    return f"<#{value}>" if value is not None else s.gettext("off")


def audit_line(s: Speech, entry: AuditEntry) -> str:
    """One change in ``/quota view``'s "Recent changes": when, who, what, from → to."""
    action, target = entry.action, entry.target_id
    who = {"when": relative_time(entry.at), "actor": f"<@{entry.actor_id}>"}
    if action is AuditAction.BLOCK_WORD:  # the word itself stays off the overview
        return s.gettext("{when} {actor} added a blocked word", **who)
    if action is AuditAction.UNBLOCK_WORD:
        return s.gettext("{when} {actor} removed a blocked word", **who)
    if action is AuditAction.ALLOW_CHANNEL:
        return s.gettext("{when} {actor} allowed {channel}", channel=f"<#{target}>", **who)
    if action is AuditAction.DISALLOW_CHANNEL:
        return s.gettext("{when} {actor} disallowed {channel}", channel=f"<#{target}>", **who)
    if action is AuditAction.ADD_STYLE:  # new is "name: text"
        style = typed(one_line(entry.new_value or ""), 120)
        if entry.old_value is None:
            return s.gettext("{when} {actor} added the style {style}", style=style, **who)
        return s.gettext("{when} {actor} updated the style {style}", style=style, **who)
    if action is AuditAction.REMOVE_STYLE:
        style = typed(one_line(entry.old_value or ""), 60)
        return s.gettext("{when} {actor} removed the style {style}", style=style, **who)
    if action is AuditAction.NSFW_SAFETY:
        old, new = _audit_switch(s, entry.old_value), _audit_switch(s, entry.new_value)
        return s.gettext(
            "{when} {actor} NSFW safety checker: {old} → {new}", old=old, new=new, **who
        )
    if action is AuditAction.LOG_CHANNEL:
        old, new = _audit_channel(s, entry.old_value), _audit_channel(s, entry.new_value)
        return s.gettext("{when} {actor} moderation log: {old} → {new}", old=old, new=new, **who)
    old, new = _audit_number(s, entry.old_value), _audit_number(s, entry.new_value)
    change = {"old": old, "new": new, **who}
    if action is AuditAction.MEMBER_LIMIT:
        return s.gettext(
            "{when} {actor} member limit of {member}: {old} → {new}",
            member=f"<@{target}>",
            **change,
        )
    if action is AuditAction.ROLE_LIMIT:
        return s.gettext(
            "{when} {actor} role limit of {role}: {old} → {new}", role=f"<@&{target}>", **change
        )
    if action is AuditAction.DEFAULT_LIMIT:
        return s.gettext("{when} {actor} server default: {old} → {new}", **change)
    if action is AuditAction.SERVER_BUDGET:
        return s.gettext("{when} {actor} server budget: {old} → {new}", **change)
    return s.gettext(  # RESET_USAGE: old = the images cleared
        "{when} {actor} today's usage of {member}: {old} → {new}",
        member=f"<@{target}>",
        **change,
    )


def join_lines(
    s: Speech, lines: list[str], limit: int = FIELD_VALUE_LIMIT, empty: str | None = None
) -> str:
    """Lines joined for an embed field, cut at a line boundary with a count of the rest;
    ``empty`` (already in the reader's language) when there are none, else "none"."""
    if not lines:
        # TRANSLATORS: an empty list (no roles, no members, no blocked words).
        return s.gettext("none") if empty is None else empty
    out: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        rest = len(lines) - index
        more = s.ngettext("… and {count} more", "… and {count} more", rest)
        if used + len(line) + 1 > limit - len(more) - 1:
            out.append(more)
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def policy_embed(
    s: Speech, policy: GuildPolicy, audit: list[AuditEntry], *, bot_default: int
) -> discord.Embed:
    """``/quota view``: the whole server's quota policy and its recent changes."""
    embed = discord.Embed(title=s.gettext("Image quotas on this server"), colour=BRAND_COLOUR)
    default = (
        limit_value(s, policy.default_limit)
        if policy.default_limit is not None
        else s.gettext("not set (bot default: {limit})", limit=limit_value(s, bot_default))
    )
    embed.add_field(name=s.gettext("Default per member per day"), value=default, inline=False)
    embed.add_field(
        name=s.gettext("Server budget per day"),
        value=limit_value(s, policy.server_budget),
        inline=False,
    )
    roles = [f"<@&{role}>: {limit_value(s, n)}" for role, n in sorted(policy.role_limits.items())]
    embed.add_field(
        name=s.gettext("Role limits (highest wins)"), value=join_lines(s, roles), inline=False
    )
    members = [
        f"<@{user}>: {limit_value(s, n)}" for user, n in sorted(policy.member_limits.items())
    ]
    embed.add_field(
        name=s.gettext("Member limits (override roles)"),
        value=join_lines(s, members),
        inline=False,
    )
    embed.add_field(
        name=s.gettext("Recent changes"),
        value=join_lines(s, [audit_line(s, e) for e in audit]),
        inline=False,
    )
    embed.set_footer(text=s.gettext("Limits reset every day at 00:00 UTC."))
    return embed


def member_quota_embed(s: Speech, user_id: int, summary: UsageSummary) -> discord.Embed:
    """``/quota view member``: one member's effective limit, its source, and today's use."""
    limit = summary.limit
    embed = discord.Embed(
        colour=BRAND_COLOUR, description=s.gettext("Quota of {member}", member=f"<@{user_id}>")
    )
    embed.add_field(name=s.gettext("Daily limit"), value=limit_value(s, limit.limit), inline=True)
    embed.add_field(name=s.gettext("Used today"), value=s.number(summary.used), inline=True)
    # TRANSLATORS: how many images the member has left today.
    embed.add_field(name=s.gettext("Left"), value=s.number(summary.remaining), inline=True)
    embed.add_field(
        name=s.gettext("Comes from"), value=limit_source(s, limit, own=False), inline=False
    )
    embed.add_field(name=s.gettext("Resets"), value=relative_time(summary.reset_at), inline=False)
    return embed


def chart_text(s: Speech) -> ChartText:
    """The words on ``/quota stats``' chart, in the reader's language."""
    return ChartText(
        title=s.gettext("Images per day (UTC)"),
        title_with_spend=s.gettext("Images (bars) and estimated spend (line) per day, UTC"),
        # TRANSLATORS: the chart's legend for its bars.
        images=s.gettext("images"),
        # TRANSLATORS: the chart's legend for its line (the estimated spend).
        spend=s.gettext("spend"),
        day=lambda day: format_skeleton("MMdd", day, locale=s.locale),
        money=lambda dollars: format_currency(dollars, "USD", locale=s.locale),
    )


def stats_embed(
    s: Speech,
    totals: list[DailyTotal],
    top: list[MemberTotal],
    *,
    days: int,
    chart_name: str,
    show_spend: bool = False,
) -> discord.Embed:
    """``/quota stats``; with ``show_spend`` (a price is set) the estimated spend too.

    Every dollar amount is the exact integer sum rounded once, so the total here, the
    per-day lines and the CSV export's ``cost_usd`` column agree to the cent.
    """
    images = sum(t.images for t in totals)
    requests = sum(t.generations for t in totals)
    failures = sum(t.failures for t in totals)
    description = " · ".join(
        (
            s.ngettext("**{count}** image", "**{count}** images", images),
            s.ngettext("**{count}** request", "**{count}** requests", requests),
            # TRANSLATORS: how many requests failed, e.g. "2 failed".
            s.ngettext("{count} failed", "{count} failed", failures),
        )
    )
    if show_spend:
        spend = money(s, sum(t.cost_pico_usd for t in totals))
        description += "\n" + s.gettext("Estimated spend: **{amount}**", amount=spend)
    embed = discord.Embed(
        title=s.ngettext(
            "Usage over the last {count} day", "Usage over the last {count} days", days
        ),
        description=description,
        colour=BRAND_COLOUR,
    )

    def cost(pico: int) -> str:
        return f" · {money(s, pico)}" if show_spend else ""

    def images_count(count: int) -> str:
        return s.ngettext("{count} image", "{count} images", count)

    per_day = [
        f"`{t.day.isoformat()}` {s.number(t.images)}{cost(t.cost_pico_usd)}"
        for t in reversed(totals)
        if t.generations
    ]
    embed.add_field(
        name=s.gettext("Per day (UTC)"),
        value=join_lines(s, per_day, empty=s.gettext("no activity")),
        inline=True,
    )
    ranking = [
        f"{rank}. <@{m.user_id}> {images_count(m.images)}{cost(m.cost_pico_usd)}"
        for rank, m in enumerate(top, start=1)
    ]
    embed.add_field(
        name=s.gettext("Top members"),
        value=join_lines(s, ranking, empty=s.gettext("nobody yet")),
        inline=True,
    )
    embed.set_image(url=f"attachment://{chart_name}")
    return embed


def export_summary(s: Speech, count: int, *, days: int, retention_days: int) -> str:
    """What ``/quota export`` says over its file; the log keeps only RETENTION_DAYS."""
    generations = s.ngettext("{count} generation", "{count} generations", count)
    # TRANSLATORS: {generations} is a count such as "12 generations"; {count} counts days.
    text = s.ngettext(
        "{generations} from the last {count} day.",
        "{generations} from the last {count} days.",
        days,
        generations=generations,
    )
    if days > retention_days:
        text += " " + s.ngettext(
            "The usage log keeps each generation {count} day; older ones still count in "
            "/quota stats.",
            "The usage log keeps each generation {count} days; older ones still count in "
            "/quota stats.",
            retention_days,
        )
    return text


def export_too_large(s: Speech, days: int) -> str:
    return s.ngettext(
        "The export of {count} day is too large to upload here; try fewer days.",
        "The export of {count} days is too large to upload here; try fewer days.",
        days,
    )


# -- server rules --------------------------------------------------------------------------


def code(text: str) -> str:
    """Inline code that a backtick in ``text`` cannot break out of."""
    return f"`{text.replace('`', 'ˋ')}`"


def word_not_changed(s: Speech, error: BlockedWordRefused) -> str:
    """Why a block-word change was refused, from the rule's own fields."""
    if isinstance(error, BlockedWordTooLong):
        return s.ngettext(
            "⚠️ Nothing changed: a blocked word or phrase is limited to {count} character.",
            "⚠️ Nothing changed: a blocked word or phrase is limited to {count} characters.",
            error.limit,
        )
    if isinstance(error, BlockedWordsFull):
        return s.ngettext(
            "⚠️ Nothing changed: a server can block at most {count} word or phrase.",
            "⚠️ Nothing changed: a server can block at most {count} words or phrases.",
            error.cap,
        )
    return s.gettext("⚠️ Nothing changed: a blocked word cannot be empty.")


def channel_allowed(s: Speech, channel: str, *, changed: bool) -> str:
    """``/settings allow-channel``; ``channel`` is its mention."""
    if changed:
        return s.gettext("/imagine now works in {channel}.", channel=channel)
    return s.gettext("{channel} was already allowed.", channel=channel)


def channel_disallowed(s: Speech, channel: str, *, changed: bool, none_left: bool) -> str:
    """``/settings disallow-channel``; ``none_left``: the list is empty now, so everywhere."""
    if not changed:
        return s.gettext("{channel} was not on the allowed list.", channel=channel)
    if none_left:
        return s.gettext(
            "Removed {channel} from the allowed list. No channels are listed any more, "
            "so /imagine works everywhere.",
            channel=channel,
        )
    return s.gettext("Removed {channel} from the allowed list.", channel=channel)


def word_blocked(s: Speech, word: str, *, changed: bool) -> str:
    """``/settings block-word``; ``word`` is the rule as stored, shown as code."""
    if changed:
        return s.gettext("Prompts containing {word} are now refused.", word=code(word))
    return s.gettext("{word} was already blocked.", word=code(word))


def word_unblocked(s: Speech, word: str, *, changed: bool) -> str:
    if changed:
        return s.gettext("{word} is allowed again.", word=code(word))
    return s.gettext("{word} was not blocked.", word=code(word))


def nsfw_safety_set(s: Speech, enabled: bool) -> str:
    if enabled:
        return s.gettext(
            "The safety checker is now **on** in NSFW channels (always on everywhere else)."
        )
    return s.gettext(
        "The safety checker is now **off** in NSFW channels (always on everywhere else)."
    )


def settings_embed(
    s: Speech,
    policy: GuildPolicy,
    *,
    env_nsfw_safety: bool,
    styles: list[Style] | None = None,
) -> discord.Embed:
    embed = discord.Embed(title=s.gettext("Image settings on this server"), colour=BRAND_COLOUR)
    channels = [f"<#{c}>" for c in sorted(policy.allowed_channel_ids)]
    embed.add_field(
        name=s.gettext("Where /imagine works"),
        value=join_lines(s, channels, empty=s.gettext("every channel (no channel list set)")),
        inline=False,
    )
    words = [code(w) for w in policy.blocked_words]
    embed.add_field(name=s.gettext("Blocked words"), value=join_lines(s, words), inline=False)
    if policy.nsfw_safety is None:
        nsfw = s.gettext("on (bot default)") if env_nsfw_safety else s.gettext("off (bot default)")
    else:
        nsfw = s.gettext("on") if policy.nsfw_safety else s.gettext("off")
    embed.add_field(
        name=s.gettext("Safety checker in NSFW channels"),
        # TRANSLATORS: {state} is "on" or "off", possibly with "(bot default)".
        value=s.gettext("{state}; always on in other channels", state=nsfw),
        inline=False,
    )
    log_channel = (
        f"<#{policy.log_channel_id}>" if policy.log_channel_id is not None else s.gettext("off")
    )
    embed.add_field(name=s.gettext("Moderation log"), value=log_channel, inline=False)
    if styles is not None:
        embed.add_field(
            name=s.gettext(
                "Styles ({count} of {limit})",
                count=s.number(len(styles)),
                limit=s.number(MAX_STYLES_PER_GUILD),
            ),
            value=join_lines(
                s,
                [style_line(style) for style in styles],
                empty=s.gettext("none (add one with /settings add-style)"),
            ),
            inline=False,
        )
    return embed


# -- the moderation log ----------------------------------------------------------------------

LOG_COLOUR = discord.Colour(0x5865F2)
LOG_REFUSED_COLOUR = discord.Colour(0xF0B232)
LOG_PROMPT_LIMIT = 1000
"""A log entry is a glance, not an archive: long prompts are cut (the result has them whole)."""

LOG_NEEDS = ("View Channel", "Send Messages", "Embed Links", "Attach Files")
"""What the bot needs in the log channel: see it, post, and show an embed with a thumbnail."""


def log_channel_set(channel_mention: str) -> str:
    return (
        f"Every generation on this server will also be posted in {channel_mention}, "
        "with who asked (without pinging them), the prompt, size, seed, a thumbnail and a "
        "link to the result. Prompts refused by the server's rules are logged there too."
    )


def log_channel_off(old_mention: str | None) -> str:
    if old_mention is None:
        return "The moderation log was already off."
    return f"The moderation log is off; generations are no longer posted in {old_mention}."


def log_channel_unusable(channel_mention: str, missing: list[str]) -> str:
    return (
        f"⚠️ I can't post the log in {channel_mention}: I'm missing "
        f"**{', '.join(missing)}** there. Give me those permissions in the channel "
        "settings (or pick another channel), then run this again. Nothing changed."
    )


def log_footer(generation_id: int) -> str:
    """Unlike the result's footer, so resuming never mistakes a log entry for the result."""
    return f"moderation log · generation #{generation_id}"


def log_delivered(
    job: Job,
    *,
    images: int,
    jump_url: str,
    thumbnail_name: str | None,
    thumbnail_withheld: bool = False,
) -> tuple[str, discord.Embed]:
    """A log entry for a delivered generation: a line naming who and where, and an embed.

    ``thumbnail_withheld``: the image was made in an age-restricted channel and the log
    channel is not one, so the entry says why it shows no preview."""
    request = job.request
    content = clip(
        f"🖼️ <@{job.user_id}> generated {plural(images, 'image')} in <#{job.channel_id}>",
        CONTENT_LIMIT,
    )
    prompt = typed(request.prompt, LOG_PROMPT_LIMIT)
    embed = discord.Embed(
        description=f"{prompt}\n\n[Jump to the result]({jump_url})", colour=LOG_COLOUR
    )
    embed.add_field(name="Size", value=request.size_label, inline=True)
    embed.add_field(name="Seed", value=f"`{request.seed}`", inline=True)
    embed.add_field(name="Images", value=f"{images} of {request.count}", inline=True)
    for name, value in style_field(request.style_name):
        embed.add_field(name=name, value=value, inline=True)
    if thumbnail_name is not None:
        embed.set_thumbnail(url=f"attachment://{thumbnail_name}")
    elif thumbnail_withheld:
        embed.add_field(
            name="Preview",
            value=(
                "🔞 Not shown: made in an age-restricted channel, and this log channel is "
                "not one. Jump to the result to see it."
            ),
            inline=False,
        )
    embed.set_footer(text=log_footer(job.generation_id))
    return content, embed


def log_refused(
    *, user_id: int, channel_id: int, prompt: str, refusal: Exception
) -> tuple[str, discord.Embed]:
    """A log entry for a prompt the server's rules refused (nothing was generated)."""
    content = clip(f"🚫 <@{user_id}> was refused in <#{channel_id}>", CONTENT_LIMIT)
    embed = discord.Embed(description=typed(prompt, LOG_PROMPT_LIMIT), colour=LOG_REFUSED_COLOUR)
    if isinstance(refusal, PromptBlocked):
        reason = f"the prompt contains the blocked word or phrase {code(refusal.matched)}"
    elif isinstance(refusal, ChannelNotAllowed):
        reason = "/imagine is not enabled in that channel"
    else:
        reason = str(refusal)
    embed.add_field(name="Why", value=clip(reason, FIELD_VALUE_LIMIT), inline=False)
    embed.set_footer(text="moderation log · refused by the server's rules")
    return content, embed


def style_line(style: Style) -> str:
    return f"**{typed(style.name, 40)}**: {typed(style.text, 120)}"


# -- result buttons -------------------------------------------------------------------------


def exact_number(value: float) -> str:
    """A number as short as possible yet exact (see ``remix.exact_number``)."""
    return remix.exact_number(value)


def result_too_old(retention_days: int) -> str:
    """A button under a result whose record was pruned (RETENTION_DAYS)."""
    return (
        f"This image is too old: I keep the details of generations for "
        f"{plural(retention_days, 'day')}, so its buttons no longer work. "
        "Start a new one with /imagine."
    )


def record_missing() -> str:
    return (
        "I no longer have the record of this image (it may have been deleted), "
        "so its buttons no longer work. Start a new one with /imagine."
    )


def button_not_valid() -> str:
    """A press whose custom id names nothing this button may act on here (forged or garbled)."""
    return "This button does not belong to a result here, so I cannot act on it."


def delete_refused(owner_id: int) -> str:
    return (
        f"Only <@{owner_id}>, who asked for this image, or someone with "
        "Manage Messages can delete it."
    )


def delete_not_possible_here() -> str:
    return (
        "🗑️ I can't delete messages here: I'm not a member of this conversation or server, "
        "so Discord does not let me remove this result."
    )


def delete_failed() -> str:
    return "I could not delete that message; I may lack permission in this channel."


def info_embed(
    record: GenerationRecord,
    *,
    numbers: list[int] | None = None,
    picked: int | None = None,
) -> discord.Embed:
    """Every parameter of a generation, plus a /imagine line to reproduce it.

    ``numbers`` are the images the pressed result holds (all, unless some never came);
    ``picked`` is the one image a U button posted, whose own seed and line are shown.
    """
    params = remix.picked(record.params, picked) if picked else record.params
    title = f"Generation #{record.id}" + (f" · image {picked}" if picked else "")
    embed = discord.Embed(
        title=title,
        description=typed(params.prompt, 1500),
        colour=BRAND_COLOUR,
    )
    size = (
        f"{params.size_preset} ({params.width}×{params.height})"
        if params.size_preset
        else f"custom {params.width}×{params.height}"
    )
    if picked:
        seeds = [(picked, params.seed)]
    else:
        shown = numbers or list(range(1, params.count + 1))
        seeds = [(number, remix.image_seed(params, number)) for number in shown]
    for name, value in (
        ("Seed" if len(seeds) == 1 else "Seeds", seeds_value(seeds)),
        ("Size", size),
        ("Steps", str(params.steps)),
        ("Guidance", exact_number(params.guidance)),
        ("Acceleration", params.acceleration),
        ("Images", str(params.count)),
        ("Safety checker", "on" if params.safety_checker else "off"),
        *style_field(params.style_name),
        ("Requested by", f"<@{record.user_id}>"),
        ("Created", f"<t:{int(record.created_at.timestamp())}:f>"),
    ):
        embed.add_field(name=name, value=value, inline=name != "Seeds")
    embed.add_field(
        name="Reproduce it",
        value=code_block(remix.imagine_command(params), FIELD_VALUE_LIMIT),
        inline=False,
    )
    if params.count > 1:
        embed.add_field(
            name="One image alone",
            value="The same line with `count:1` and that image's seed makes it again, alone.",
            inline=False,
        )
    return embed


# -- the queue -----------------------------------------------------------------------------

CANCEL_OUTCOME_TEXT = {
    CancelOutcome.CANCELLED: f"🛑 Cancelled. {NOT_CHARGED}",
    CancelOutcome.NOT_ALLOWED: "Only the member who asked, or a moderator, can cancel this.",
    CancelOutcome.ALREADY_RUNNING: "It is already being generated, so it can no longer be "
    "cancelled. You will only be charged for images you receive.",
    CancelOutcome.UNKNOWN: "That request is no longer waiting: it has finished or was cancelled.",
}


def cancel_outcome(outcome: CancelOutcome) -> str:
    return CANCEL_OUTCOME_TEXT[outcome]


def queue_line(record: GenerationRecord, state: str, *, show_owner: bool) -> str:
    who = f"<@{record.user_id}> · " if show_owner else ""
    prompt = typed(one_line(record.params.prompt), 60)
    return f"#{record.id} {who}{plural(record.params.count, 'image')} · {state} · “{prompt}”"


def queue_embed(lines: list[str], *, total: int, whole_server: bool, hidden: int) -> discord.Embed:
    title = "Queue on this server" if whole_server else "Your requests"
    if not lines:
        description = "Nothing is waiting." if whole_server else "You have nothing waiting."
    else:
        description = "\n".join(lines)
        if hidden:
            description += f"\n… and {hidden} more"
    embed = discord.Embed(title=title, description=description, colour=BRAND_COLOUR)
    embed.set_footer(text=f"{plural(total, 'request')} in flight")
    return embed


# -- server styles -------------------------------------------------------------------------


def _quoted_style(s: Speech, name: str, limit: int) -> str:
    # TRANSLATORS: a style's name in quotation marks; use your language's marks.
    return s.gettext("“{name}”", name=typed(name, limit))


def unknown_style(s: Speech, name: str, styles: list[Style]) -> str:
    """A style name this server does not have, with the ones it has."""
    asked = typed(name, 60)
    if not styles:
        return s.gettext(
            "There is no style “{name}” here: this server has no styles yet.", name=asked
        )
    names = ", ".join(_quoted_style(s, style.name, 40) for style in styles)
    return clip(
        s.gettext(
            "There is no style “{name}” here. Styles on this server: {styles}.",
            name=asked,
            styles=names,
        ),
        CONTENT_LIMIT,
    )


def no_styles_in_personal_places(s: Speech) -> str:
    """``style:`` in a DM, a group DM or a server without the bot: styles are a server's."""
    return s.gettext(
        "🎨 Styles belong to a server's moderators, so there are none here (outside the "
        "bot's servers). Leave `style:` out, or use it in a server that has styles."
    )


def preferred_style_gone(s: Speech, name: str) -> str:
    return s.gettext(
        "Your default style “{name}” is no longer on this server. Type another "
        "with `style:`, or change your defaults with /preferences set or /preferences reset.",
        name=typed(name, 60),
    )


def style_saved(s: Speech, name: str, replaced: str | None) -> str:
    shown = typed(name, 40)
    if replaced is None:
        return s.gettext(
            "Style “{name}” added: members can pick it with `/imagine style:`.", name=shown
        )
    return s.gettext("Style “{name}” updated with its new text.", name=shown)


def style_removed(s: Speech, name: str, removed: bool) -> str:
    shown = typed(name, 40)
    if removed:
        return s.gettext("Style “{name}” removed.", name=shown)
    return s.gettext("There was no style “{name}” here.", name=shown)


def style_not_changed(s: Speech, error: StyleRefused) -> str:
    """Why a style was refused, from the rule's own fields."""
    if isinstance(error, StylesFull):
        return s.ngettext(
            "⚠️ Nothing changed: a server can have at most {count} style; remove one first.",
            "⚠️ Nothing changed: a server can have at most {count} styles; remove one first.",
            error.cap,
        )
    if isinstance(error, StyleTooLong):
        if error.part == "name":
            return s.ngettext(
                "⚠️ Nothing changed: a style's name can be at most {count} character.",
                "⚠️ Nothing changed: a style's name can be at most {count} characters.",
                error.limit,
            )
        return s.ngettext(
            "⚠️ Nothing changed: a style's text can be at most {count} character.",
            "⚠️ Nothing changed: a style's text can be at most {count} characters.",
            error.limit,
        )
    if isinstance(error, StyleEmpty) and error.part == "text":
        return s.gettext("⚠️ Nothing changed: a style needs some text to add to prompts.")
    return s.gettext("⚠️ Nothing changed: a style needs a name.")


# -- preferences ---------------------------------------------------------------------------


def preferences_embed(
    s: Speech, preferences: Preferences, *, changed: bool = False
) -> discord.Embed:
    """A member's defaults for /imagine here; what is not set says which default applies."""
    p = preferences

    def not_set(default: str) -> str:
        # TRANSLATORS: a default the member did not set; {default} is what applies instead.
        return s.gettext("not set ({default})", default=default)

    if p.width is not None and p.height is not None:
        # TRANSLATORS: a custom image size, e.g. "custom 1024×768".
        size = s.gettext("custom {width}×{height}", width=p.width, height=p.height)
    else:
        size = p.size or not_set(DEFAULT_SIZE)
    rows = [
        (s.gettext("Size"), size),
        (
            s.gettext("Steps"),
            not_set(s.number(DEFAULT_STEPS)) if p.steps is None else s.number(p.steps),
        ),
        (
            s.gettext("Guidance"),
            not_set(f"{DEFAULT_GUIDANCE:g}") if p.guidance is None else exact_number(p.guidance),
        ),
        (s.gettext("Acceleration"), p.acceleration or not_set("regular")),
        (s.gettext("Images"), not_set(s.number(1)) if p.count is None else s.number(p.count)),
        (
            s.gettext("Style"),
            # TRANSLATORS: no default style set, and none applies.
            s.gettext("not set (none)") if p.style is None else typed(p.style, 100),
        ),
    ]
    title = (
        s.gettext("Your defaults are saved")
        if changed
        else s.gettext("Your defaults for /imagine here")
    )
    embed = discord.Embed(
        title=title,
        description=s.gettext("Anything you type in /imagine still wins over these."),
        colour=BRAND_COLOUR,
    )
    for name, value in rows:
        embed.add_field(name=name, value=value, inline=True)
    return embed


def preferences_reset(s: Speech, had_any: bool) -> str:
    if had_any:
        return s.gettext("Your defaults here are cleared: /imagine uses its own defaults again.")
    return s.gettext("You had no defaults set here; /imagine uses its own defaults.")


def preferences_nothing_given(s: Speech) -> str:
    return s.gettext("Give at least one option to set, e.g. `/preferences set steps:35`.")


def nothing_saved(s: Speech, reason: str) -> str:
    """Preferences ``/imagine`` would refuse; ``reason`` is that refusal, already worded."""
    return clip(s.gettext("Nothing saved: {reason}", reason=reason), CONTENT_LIMIT)


# -- history -------------------------------------------------------------------------------

HISTORY_PAGE_SIZE = 8


def jump_url(record: GenerationRecord, *, here: tuple[int, int | None] | None = None) -> str | None:
    """A link to the result, where one opens it for the member.

    A private result is ephemeral: nothing to jump to. A personal generation is stored
    under server 0, so its real place is inferred: one the bot could post in is the bot's
    DM (``@me``); one reached only through the interaction is a group DM or a server
    without the bot, told apart only when ``/history`` runs in that very channel
    (``here``: its channel id and server id, None for a DM).
    """
    message_id = record.posted_message_id or record.message_id
    if message_id is None or record.reach is Reach.PRIVATE:
        return None
    where: str | int = record.guild_id
    if record.guild_id == 0:
        if record.reach is Reach.CHANNEL:
            where = "@me"
        elif here is not None and here[0] == record.channel_id:
            where = "@me" if here[1] is None else here[1]
        else:
            return None
    return f"https://discord.com/channels/{where}/{record.channel_id}/{message_id}"


def outcome(s: Speech, record: GenerationRecord) -> str:
    if record.status is GenerationStatus.SUCCEEDED:
        return s.ngettext("✅ {count} image", "✅ {count} images", record.delivered)
    if record.status is GenerationStatus.FAILED:
        return s.gettext("❌ failed")
    if record.status is GenerationStatus.CANCELLED:
        return s.gettext("🛑 cancelled")
    return s.gettext("⏳ in progress")


def history_line(
    s: Speech, record: GenerationRecord, here: tuple[int, int | None] | None = None
) -> str:
    """Two lines: which generation, when and what; then what makes it again, and how it
    ended (the second line's parts are a list, each translated whole)."""
    params = record.params
    first = s.gettext(
        "**#{id}** {when} · “{prompt}”",
        id=record.id,
        when=relative_time(record.created_at),
        prompt=typed(one_line(params.prompt), 60),
    )
    parts = [s.gettext("seed `{seed}`", seed=params.seed), f"{params.width}×{params.height}"]
    if params.style_name:
        parts.append(s.gettext("style {style}", style=typed(params.style_name, 32)))
    parts.append(outcome(s, record))
    link = jump_url(record, here=here)
    if link and record.status is GenerationStatus.SUCCEEDED:
        # TRANSLATORS: a link to the result in its channel; keep [text](link) whole.
        parts.append(s.gettext("[jump]({link})", link=link))
    return f"{first}\n{' · '.join(parts)}"


def history_embed(
    s: Speech,
    records: list[GenerationRecord],
    *,
    user_id: int,
    own: bool,
    page: int,
    pages: int,
    total: int,
    here: tuple[int, int | None] | None = None,
) -> discord.Embed:
    """A page of history; ``here`` (personal places only: the channel and server it was
    asked in) lets a result made in this very channel be linked (see :func:`jump_url`)."""
    if here is not None:
        title = s.gettext("Your recent personal images")
    else:
        title = s.gettext("Your recent images here") if own else s.gettext("Recent images here")
    member = f"<@{user_id}>"
    if not records:
        description = (
            s.gettext("Nothing yet: try /imagine.")
            if own
            else s.gettext("{member} has no images here yet.", member=member)
        )
    else:
        description = "\n\n".join(history_line(s, r, here) for r in records)
        if not own:
            requested = s.gettext("Requested by {member}", member=member)
            description = f"{requested}\n\n{description}"
    embed = discord.Embed(
        title=title, description=clip(description, EMBED_DESCRIPTION_LIMIT), colour=BRAND_COLOUR
    )
    embed.set_footer(
        text=s.ngettext(
            "Page {page} of {pages} · {count} generation, newest first",
            "Page {page} of {pages} · {count} generations, newest first",
            total,
            page=s.number(page),
            pages=s.number(max(pages, 1)),
        )
    )
    return embed


def history_newer(s: Speech) -> str:
    # TRANSLATORS: a button (80 characters at most) turning to newer history entries.
    return clip(s.gettext("◀ Newer"), 80)


def history_older(s: Speech) -> str:
    # TRANSLATORS: a button (80 characters at most) turning to older history entries.
    return clip(s.gettext("Older ▶"), 80)


def history_of_others_in_servers_only(s: Speech) -> str:
    """``/history member:`` outside the bot's servers: there are no moderators there."""
    return s.gettext(
        "🔒 Only moderators may look at another member's history, and only in a server "
        "the bot is in. Here, /history shows your own personal images."
    )


def history_not_yours(s: Speech) -> str:
    return s.gettext("These pages belong to whoever opened them. Run /history to see your own.")


# -- "Imagine this" ------------------------------------------------------------------------


def imagine_this_title(s: Speech) -> str:
    # TRANSLATORS: the "Imagine this" dialog's title (45 characters at most).
    return clip(s.gettext("Imagine this"), 45)


def imagine_this_prompt_label(s: Speech) -> str:
    # TRANSLATORS: a text box's label in a dialog (45 characters at most).
    return clip(s.gettext("Prompt"), 45)


def imagine_this_size_label(s: Speech) -> str:
    # TRANSLATORS: a text box's label in a dialog (45 characters at most).
    return clip(s.gettext("Size (empty for your default)"), 45)


def imagine_this_size_placeholder(s: Speech) -> str:
    # TRANSLATORS: an example in an empty text box (100 characters at most); the size
    # names and 1024x768 are what members type: keep them as they are.
    return clip(s.gettext("square_hd, landscape_16_9… or 1024x768"), 100)


def imagine_this_seed_label(s: Speech) -> str:
    # TRANSLATORS: a text box's label in a dialog (45 characters at most).
    return clip(s.gettext("Seed (empty for a random one)"), 45)


def nothing_to_imagine(s: Speech) -> str:
    return s.gettext("That message has no text I could use as a prompt.")


def bad_size(s: Speech, text: str) -> str:
    return s.gettext(
        "I could not read the size “{size}”: give a preset such as square_hd "
        "or landscape_4_3, or width×height such as 1024x768.",
        size=typed(text, 40),
    )


def bad_seed(s: Speech, max_seed: int) -> str:
    """A seed that is not a whole number in range (seeds are shown as typed, no grouping)."""
    return s.gettext("The seed must be a whole number from 0 to {max}.", max=max_seed)
