"""Every text and embed a member reads, built in one place.

Keeping the wording here means the tone is consistent and Discord's length limits
(content 2000, embed description 4096, field value 1024, 6000 per message) are
handled once instead of at every call site.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

import discord

from bot.jobs import remix
from bot.jobs.service import CancelOutcome, ChannelNotAllowed, Job, Missing, PromptBlocked
from bot.policy.quota import EffectiveLimit, LimitSource
from bot.policy.spend import dollars
from bot.policy.styles import MAX_STYLES_PER_GUILD
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
    LimitSource.MEMBER: "a limit a moderator set for you",
    LimitSource.ROLE: "your role {role}",
    LimitSource.SERVER_DEFAULT: "this server's default",
    LimitSource.BOT_DEFAULT: "the bot's default",
}


def limit_source(limit: EffectiveLimit) -> str:
    text = LIMIT_SOURCE_TEXT[limit.source]
    return text.format(role=f"<@&{limit.role_id}>") if limit.role_id else text


def limit_value(limit: int | None) -> str:
    if limit is None:
        return "not set"
    return "blocked (0)" if limit == 0 else plural(limit, "image")


def usage_embed(
    summary: UsageSummary, *, server_spend_pico: int | None = None, personal: bool = False
) -> discord.Embed:
    """``/usage``: where a member stands today, in one glance.

    ``server_spend_pico`` is given for moderators when a price is set: the server's
    estimated spend today. ``personal``: asked outside the bot's servers, where the one
    personal quota applies (the bot's DM, group DMs, servers without the bot).
    """
    limit = summary.limit
    embed = discord.Embed(title="Your images today", colour=BRAND_COLOUR)
    if limit.blocked:
        embed.description = "You are not allowed to generate images on this server."
    else:
        embed.description = (
            f"**{summary.used}** of **{limit.limit}** used · **{summary.remaining}** left\n"
            f"Resets {relative_time(summary.reset_at)}"
        )
    source = (
        "Your personal quota, shared by every place outside the bot's servers "
        "(DMs, group DMs, servers without the bot)"
        if personal
        else limit_source(limit)
    )
    embed.add_field(name="Your limit comes from", value=source, inline=False)
    if summary.server_budget is not None:
        embed.add_field(
            name="Server budget today",
            value=f"{summary.server_used} of {summary.server_budget} used "
            f"· {summary.server_remaining} left",
            inline=False,
        )
    if server_spend_pico is not None:
        embed.add_field(
            name="Server spend today (estimated)",
            value=f"{dollars(server_spend_pico)} for {plural(summary.server_used, 'image')}",
            inline=False,
        )
    return embed


def limit_changed(what: str, old: int | None, new: int | None) -> str:
    if new is None:
        return f"Removed {what} (was {limit_value(old)})."
    return f"Set {what} to {limit_value(new)} (was {limit_value(old)})."


AUDIT_ACTION_TEXT = {
    AuditAction.MEMBER_LIMIT: "member limit of {target}",
    AuditAction.ROLE_LIMIT: "role limit of {role}",
    AuditAction.DEFAULT_LIMIT: "server default",
    AuditAction.SERVER_BUDGET: "server budget",
    AuditAction.RESET_USAGE: "today's usage of {target}",
    AuditAction.ALLOW_CHANNEL: "allowed {channel}",
    AuditAction.DISALLOW_CHANNEL: "disallowed {channel}",
    AuditAction.BLOCK_WORD: "blocked word",
    AuditAction.UNBLOCK_WORD: "blocked word",
    AuditAction.NSFW_SAFETY: "NSFW safety checker",
    AuditAction.LOG_CHANNEL: "moderation log",
}


def audit_line(entry: AuditEntry) -> str:
    target = entry.target_id
    what = AUDIT_ACTION_TEXT.get(entry.action, entry.action.value).format(
        target=f"<@{target}>", role=f"<@&{target}>", channel=f"<#{target}>"
    )
    old = entry.old_value if entry.old_value is not None else "—"
    new = entry.new_value if entry.new_value is not None else "—"
    if entry.action in (AuditAction.BLOCK_WORD, AuditAction.UNBLOCK_WORD):
        change = "added" if entry.action is AuditAction.BLOCK_WORD else "removed"
        return f"{relative_time(entry.at)} <@{entry.actor_id}> {change} a {what}"
    if entry.action in (AuditAction.ALLOW_CHANNEL, AuditAction.DISALLOW_CHANNEL):
        return f"{relative_time(entry.at)} <@{entry.actor_id}> {what}"
    if entry.action is AuditAction.LOG_CHANNEL:
        old = f"<#{entry.old_value}>" if entry.old_value is not None else "off"
        new = f"<#{entry.new_value}>" if entry.new_value is not None else "off"
    return f"{relative_time(entry.at)} <@{entry.actor_id}> {what}: {old} → {new}"


def join_lines(lines: list[str], limit: int = FIELD_VALUE_LIMIT, empty: str = "none") -> str:
    """Lines joined for an embed field, cut at a line boundary with a count of the rest."""
    if not lines:
        return empty
    out: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        more = f"… and {len(lines) - index} more"
        if used + len(line) + 1 > limit - len(more) - 1:
            out.append(more)
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def policy_embed(
    policy: GuildPolicy, audit: list[AuditEntry], *, bot_default: int
) -> discord.Embed:
    """``/quota view``: the whole server's quota policy and its recent changes."""
    embed = discord.Embed(title="Image quotas on this server", colour=BRAND_COLOUR)
    default = (
        limit_value(policy.default_limit)
        if policy.default_limit is not None
        else f"not set (bot default: {limit_value(bot_default)})"
    )
    embed.add_field(name="Default per member per day", value=default, inline=False)
    embed.add_field(
        name="Server budget per day", value=limit_value(policy.server_budget), inline=False
    )
    roles = [f"<@&{role}>: {limit_value(n)}" for role, n in sorted(policy.role_limits.items())]
    embed.add_field(name="Role limits (highest wins)", value=join_lines(roles), inline=False)
    members = [f"<@{user}>: {limit_value(n)}" for user, n in sorted(policy.member_limits.items())]
    embed.add_field(name="Member limits (override roles)", value=join_lines(members), inline=False)
    embed.add_field(
        name="Recent changes", value=join_lines([audit_line(e) for e in audit]), inline=False
    )
    embed.set_footer(text="Limits reset every day at 00:00 UTC.")
    return embed


def member_quota_embed(user_id: int, summary: UsageSummary) -> discord.Embed:
    """``/quota view member``: one member's effective limit, its source, and today's use."""
    limit = summary.limit
    embed = discord.Embed(colour=BRAND_COLOUR, description=f"Quota of <@{user_id}>")
    embed.add_field(name="Daily limit", value=limit_value(limit.limit), inline=True)
    embed.add_field(name="Used today", value=str(summary.used), inline=True)
    embed.add_field(name="Left", value=str(summary.remaining), inline=True)
    source = LIMIT_SOURCE_TEXT[limit.source].replace("you", "them").replace("your", "their")
    if limit.role_id:
        source = f"the role <@&{limit.role_id}>"
    embed.add_field(name="Comes from", value=source, inline=False)
    embed.add_field(name="Resets", value=relative_time(summary.reset_at), inline=False)
    return embed


def stats_embed(
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
    description = f"**{images}** images from **{requests}** requests · {failures} failed"
    if show_spend:
        spend = dollars(sum(t.cost_pico_usd for t in totals))
        description += f"\nEstimated spend: **{spend}**"
    embed = discord.Embed(
        title=f"Usage over the last {plural(days, 'day')}",
        description=description,
        colour=BRAND_COLOUR,
    )

    def money(pico: int) -> str:
        return f" · {dollars(pico)}" if show_spend else ""

    per_day = [
        f"`{t.day.isoformat()}` {t.images}{money(t.cost_pico_usd)}"
        for t in reversed(totals)
        if t.generations
    ]
    embed.add_field(
        name="Per day (UTC)", value=join_lines(per_day, empty="no activity"), inline=True
    )
    ranking = [
        f"{rank}. <@{m.user_id}> {plural(m.images, 'image')}{money(m.cost_pico_usd)}"
        for rank, m in enumerate(top, start=1)
    ]
    embed.add_field(name="Top members", value=join_lines(ranking, empty="nobody yet"), inline=True)
    embed.set_image(url=f"attachment://{chart_name}")
    return embed


def export_summary(count: int, *, days: int, retention_days: int) -> str:
    """What ``/quota export`` says over its file; the log keeps only RETENTION_DAYS."""
    text = f"{plural(count, 'generation')} from the last {plural(days, 'day')}."
    if days > retention_days:
        text += (
            f" The usage log keeps each generation {plural(retention_days, 'day')}; older"
            " ones still count in /quota stats."
        )
    return text


# -- server rules --------------------------------------------------------------------------


def code(text: str) -> str:
    """Inline code that a backtick in ``text`` cannot break out of."""
    return f"`{text.replace('`', 'ˋ')}`"


def word_not_changed(reason: str) -> str:
    """Why a block-word change was refused (``reason`` is the rule's own explanation)."""
    return f"⚠️ Nothing changed: {reason}."


def settings_embed(
    policy: GuildPolicy, *, env_nsfw_safety: bool, styles: list[Style] | None = None
) -> discord.Embed:
    embed = discord.Embed(title="Image settings on this server", colour=BRAND_COLOUR)
    channels = [f"<#{c}>" for c in sorted(policy.allowed_channel_ids)]
    embed.add_field(
        name="Where /imagine works",
        value=join_lines(channels, empty="every channel (no channel list set)"),
        inline=False,
    )
    words = [code(w) for w in policy.blocked_words]
    embed.add_field(name="Blocked words", value=join_lines(words, empty="none"), inline=False)
    if policy.nsfw_safety is None:
        nsfw = f"{'on' if env_nsfw_safety else 'off'} (bot default)"
    else:
        nsfw = "on" if policy.nsfw_safety else "off"
    embed.add_field(
        name="Safety checker in NSFW channels",
        value=f"{nsfw}; always on in other channels",
        inline=False,
    )
    log_channel = f"<#{policy.log_channel_id}>" if policy.log_channel_id is not None else "off"
    embed.add_field(name="Moderation log", value=log_channel, inline=False)
    if styles is not None:
        embed.add_field(
            name=f"Styles ({len(styles)} of {MAX_STYLES_PER_GUILD})",
            value=join_lines(
                [style_line(s) for s in styles], empty="none (add one with /settings add-style)"
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


def unknown_style(name: str, styles: list[Style]) -> str:
    """A style name this server does not have, with the ones it has."""
    asked = typed(name, 60)
    if not styles:
        return f"There is no style “{asked}” here: this server has no styles yet."
    names = ", ".join(f"“{typed(s.name, 40)}”" for s in styles)
    return clip(f"There is no style “{asked}” here. Styles on this server: {names}.", CONTENT_LIMIT)


def no_styles_in_personal_places() -> str:
    """``style:`` in a DM, a group DM or a server without the bot: styles are a server's."""
    return (
        "🎨 Styles belong to a server's moderators, so there are none here (outside the "
        "bot's servers). Leave `style:` out, or use it in a server that has styles."
    )


def preferred_style_gone(name: str) -> str:
    return (
        f"Your default style “{typed(name, 60)}” is no longer on this server. Type another "
        "with `style:`, or change your defaults with /preferences set or /preferences reset."
    )


def style_saved(name: str, replaced: str | None) -> str:
    shown = typed(name, 40)
    if replaced is None:
        return f"Style “{shown}” added: members can pick it with `/imagine style:`."
    return f"Style “{shown}” updated with its new text."


def style_removed(name: str, removed: bool) -> str:
    shown = typed(name, 40)
    return f"Style “{shown}” removed." if removed else f"There was no style “{shown}” here."


def style_not_changed(reason: str) -> str:
    return f"⚠️ Nothing changed: {reason}."


# -- preferences ---------------------------------------------------------------------------


def preferences_embed(preferences: Preferences, *, changed: bool = False) -> discord.Embed:
    """A member's defaults for /imagine here; what is not set says which default applies."""
    p = preferences
    if p.width is not None and p.height is not None:
        size = f"custom {p.width}×{p.height}"
    else:
        size = p.size or f"not set ({DEFAULT_SIZE})"
    rows = [
        ("Size", size),
        ("Steps", f"not set ({DEFAULT_STEPS})" if p.steps is None else str(p.steps)),
        (
            "Guidance",
            f"not set ({DEFAULT_GUIDANCE:g})" if p.guidance is None else exact_number(p.guidance),
        ),
        ("Acceleration", p.acceleration or "not set (regular)"),
        ("Images", "not set (1)" if p.count is None else str(p.count)),
        ("Style", "not set (none)" if p.style is None else typed(p.style, 100)),
    ]
    title = "Your defaults are saved" if changed else "Your defaults for /imagine here"
    embed = discord.Embed(
        title=title,
        description="Anything you type in /imagine still wins over these.",
        colour=BRAND_COLOUR,
    )
    for name, value in rows:
        embed.add_field(name=name, value=value, inline=True)
    return embed


def preferences_reset(had_any: bool) -> str:
    if had_any:
        return "Your defaults here are cleared: /imagine uses its own defaults again."
    return "You had no defaults set here; /imagine uses its own defaults."


def preferences_nothing_given() -> str:
    return "Give at least one option to set, e.g. `/preferences set steps:35`."


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


def outcome(record: GenerationRecord) -> str:
    if record.status is GenerationStatus.SUCCEEDED:
        return f"✅ {plural(record.delivered, 'image')}"
    if record.status is GenerationStatus.FAILED:
        return "❌ failed"
    if record.status is GenerationStatus.CANCELLED:
        return "🛑 cancelled"
    return "⏳ in progress"


def history_line(record: GenerationRecord, here: tuple[int, int | None] | None = None) -> str:
    params = record.params
    prompt = typed(one_line(params.prompt), 60)
    size = f"{params.width}×{params.height}"
    style = f" · style {typed(params.style_name, 32)}" if params.style_name else ""
    link = jump_url(record, here=here)
    where = f" · [jump]({link})" if link and record.status is GenerationStatus.SUCCEEDED else ""
    return (
        f"**#{record.id}** {relative_time(record.created_at)} · “{prompt}”\n"
        f"seed `{params.seed}` · {size}{style} · {outcome(record)}{where}"
    )


def history_embed(
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
        title = "Your recent personal images"
    else:
        title = "Your recent images here" if own else "Recent images here"
    if not records:
        description = (
            "Nothing yet: try /imagine." if own else f"<@{user_id}> has no images here yet."
        )
    else:
        description = "\n\n".join(history_line(r, here) for r in records)
        if not own:
            description = f"Requested by <@{user_id}>\n\n{description}"
    embed = discord.Embed(
        title=title, description=clip(description, EMBED_DESCRIPTION_LIMIT), colour=BRAND_COLOUR
    )
    embed.set_footer(
        text=f"Page {page} of {max(pages, 1)} · {plural(total, 'generation')}, newest first"
    )
    return embed


def history_of_others_in_servers_only() -> str:
    """``/history member:`` outside the bot's servers: there are no moderators there."""
    return (
        "🔒 Only moderators may look at another member's history, and only in a server "
        "the bot is in. Here, /history shows your own personal images."
    )


def history_not_yours() -> str:
    return "These pages belong to whoever opened them. Run /history to see your own."


# -- "Imagine this" ------------------------------------------------------------------------


def nothing_to_imagine() -> str:
    return "That message has no text I could use as a prompt."


def bad_size(text: str) -> str:
    return (
        f"I could not read the size “{typed(text, 40)}”: give a preset such as square_hd "
        "or landscape_4_3, or width×height such as 1024x768."
    )
