"""Every text and embed a member reads, built in one place, in the reader's language.

Keeping the wording here means the tone is consistent and Discord's length limits
(content 2000, embed description 4096, field value 1024, 6000 per message) are
handled once instead of at every call site, and always on the translated text: a
translation is often longer than the English.

A message function takes the voice it speaks in first (``s``, a :class:`bot.i18n.Speech`):
the member's for a private answer, the server's for a public one; the caller knows which
(``cogs/common/voices.py``). The English text is the ``msgid`` in the gettext catalog
(``bot/i18n``); a text defined away from where it is shown is marked with ``N_`` and
translated with ``s.gettext`` where it is shown.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Literal

import discord
from babel.dates import format_skeleton
from babel.lists import format_list
from babel.numbers import format_currency, format_decimal

from bot.i18n import CHOOSABLE, N_, Speech, speech
from bot.jobs import remix
from bot.jobs.service import (
    Busy,
    CancelOutcome,
    ChannelNotAllowed,
    Job,
    Missing,
    PromptBlocked,
    QueueFull,
    ShuttingDown,
    TooManyJobs,
)
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
    InvalidRequest,
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
FIELD_NAME_LIMIT = 256
AUTHOR_NAME_LIMIT = 256
BUTTON_LABEL_LIMIT = 80
MODAL_TITLE_LIMIT = 45
TEXT_INPUT_LABEL_LIMIT = 45
BRAND_COLOUR = discord.Colour(0x7C5CFF)
ERROR_COLOUR = discord.Colour(0xE5484D)


def clip(text: str, limit: int) -> str:
    """Shorten ``text`` to ``limit`` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def listed(
    s: Speech, items: Sequence[str], *, style: Literal["standard", "or"] = "standard"
) -> str:
    """Items joined as this language lists them: "a, b and c" (``style="or"``: "a, b, or c")."""
    return format_list(list(items), style=style, locale=s.locale)


def decimal(s: Speech, value: float, pattern: str = "#,##0.#") -> str:
    """A number with a fixed number of decimals (``pattern``), as this language writes it."""
    return format_decimal(value, format=pattern, locale=s.locale)


def seconds(s: Speech, value: float, *, tenths: bool = False) -> str:
    """A duration in whole seconds (or tenths), as members read it: "12 s", "3.4 s"."""
    shown = decimal(s, value, "#,##0.0") if tenths else s.number(int(value))
    # TRANSLATORS: a duration in seconds, e.g. "12 s" or "3.4 s" (progress line, result's Time).
    return s.gettext("{seconds} s", seconds=shown)


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


def quota_exceeded(s: Speech, error: QuotaExceeded, *, has_count_option: bool = True) -> str:
    """Why a request does not fit today. ``has_count_option`` is False for buttons and
    dialogs, which have no ``count`` to lower."""
    reset = relative_time(error.reset_at)
    requested = s.number(error.requested)
    if error.scope == "server":
        if error.remaining <= 0:
            return s.ngettext(
                "This server has used its whole daily budget of {count} image. It resets {reset}.",
                "This server has used its whole daily budget of {count} images. It resets {reset}.",
                error.limit,
                reset=reset,
            )
        return s.ngettext(
            "This server has only {count} image left in today's budget, and you asked for "
            "{requested}. Ask for fewer, or wait until it resets {reset}.",
            "This server has only {count} images left in today's budget, and you asked for "
            "{requested}. Ask for fewer, or wait until it resets {reset}.",
            error.remaining,
            requested=requested,
            reset=reset,
        )
    if error.limit == 0:
        return s.gettext("You are not allowed to generate images on this server.")
    if error.remaining <= 0:
        return s.ngettext(
            "You have used all {count} image of your daily limit. It resets {reset}.",
            "You have used all {count} images of your daily limit. It resets {reset}.",
            error.limit,
            reset=reset,
        )
    fields = {"limit": s.number(error.limit), "requested": requested, "reset": reset}
    if has_count_option:
        return s.ngettext(
            "You have {count} image left today (limit {limit}), and you asked for {requested}. "
            "Lower `count` to {remaining}, or wait until your limit resets {reset}.",
            "You have {count} images left today (limit {limit}), and you asked for {requested}. "
            "Lower `count` to {remaining}, or wait until your limit resets {reset}.",
            error.remaining,
            remaining=error.remaining,  # typed back as an option value: no digit grouping
            **fields,
        )
    return s.ngettext(
        "You have {count} image left today (limit {limit}), and you asked for {requested}. "
        "Ask for fewer, or wait until your limit resets {reset}.",
        "You have {count} images left today (limit {limit}), and you asked for {requested}. "
        "Ask for fewer, or wait until your limit resets {reset}.",
        error.remaining,
        **fields,
    )


def refusal(s: Speech, error: Exception) -> str:
    """A refusal from the core, in the member's terms (channel names become links).

    Built by type from the exception's fields, each with its own text: the core's
    ``str()`` is English, for the logs.
    """
    if isinstance(error, InvalidRequest):
        return invalid_request(s, error)
    if isinstance(error, PromptBlocked):
        return s.gettext(
            "Your prompt contains “{matched}”, which this server does not allow.",
            matched=typed(error.matched, 200),
        )
    if isinstance(error, ChannelNotAllowed):
        if not error.allowed_channel_ids:
            return s.gettext("Image generation is not enabled in this channel.")
        where = [f"<#{channel}>" for channel in error.allowed_channel_ids[:10]]
        # TRANSLATORS: {channels} is a list of channel links, "#art, #memes, or #bots".
        return s.gettext(
            "Image generation is not enabled in this channel. Try {channels}.",
            channels=listed(s, where, style="or"),
        )
    if isinstance(error, TooManyJobs):
        return s.ngettext(
            "You already have {count} request waiting or generating. "
            "Wait for one to finish, then try again.",
            "You already have {count} requests waiting or generating. "
            "Wait for one to finish, then try again.",
            error.limit,
        )
    if isinstance(error, QueueFull):
        return s.ngettext(
            "The bot is very busy: {count} request is already waiting. "
            "Please try again in a few minutes.",
            "The bot is very busy: {count} requests are already waiting. "
            "Please try again in a few minutes.",
            error.limit,
        )
    if isinstance(error, Busy):
        return s.gettext("⏳ The bot is busy right now. Please try again in a moment.")
    if isinstance(error, ShuttingDown):
        return s.gettext("The bot is restarting. Please try again in a minute.")
    log.warning("no translated text for the refusal %s", type(error).__name__)
    return str(error)


def invalid_request(s: Speech, error: InvalidRequest) -> str:
    """A setting the bot will not send, said in ``s``: the exception's English template
    (its msgid, marked where it is raised) filled with its values.

    Limits members read (1 to 50 steps) are numbers of the language; what they typed is
    echoed as typed; the seed's bounds and pixel sizes stay digits (:data:`_VERBATIM`).
    """
    fields = {
        name: s.number(value) if isinstance(value, int | float) and name not in _VERBATIM else value
        for name, value in error.fields.items()
    }
    return s.gettext(error.template, **fields)


_VERBATIM = frozenset({"max_seed", "min_side", "max_side", "multiple"})
"""Values an invalid request's text shows as plain digits: a seed to copy, pixel sizes
(never grouped as 4,294,… or 2,048)."""


def api_failure(s: Speech, error: SirayaError) -> str:
    """What the member reads when the image API let us down; never the raw exception."""
    kind = error.kind
    if kind is ErrorKind.REFUSED:
        return s.gettext(
            "🚫 The image service refused this prompt under its content policy. "
            "Try rewording it. You were not charged for it."
        )
    if kind is ErrorKind.OUT_OF_CREDIT:
        return s.gettext(
            "⏸️ Image generation is paused: the bot's image-service account is out of credit. "
            "The bot owner has been alerted. You were not charged for it."
        )
    if kind is ErrorKind.AUTH:
        return s.gettext(
            "🔧 The bot is misconfigured: the image service rejected its API key. "
            "The bot owner has been alerted. You were not charged for it."
        )
    if kind is ErrorKind.RATE_LIMITED:
        return s.gettext(
            "🚦 The image service is too busy right now; I retried a few times and gave up. "
            "Please try again in a minute. You were not charged for it."
        )
    if kind is ErrorKind.TIMEOUT:
        return s.gettext(
            "⌛ The image service took too long to answer. Please try again. "
            "You were not charged for it."
        )
    if kind is ErrorKind.BAD_REQUEST:
        # The service's own words (English) are quoted as it said them.
        detail = typed(error.api_message, 300) if error.api_message else None
        if detail is None:
            return s.gettext(
                "⚠️ The image service rejected these settings without saying why. "
                "You were not charged for it."
            )
        return s.gettext(
            "⚠️ The image service rejected these settings: {detail} You were not charged for it.",
            detail=detail,
        )
    if kind is ErrorKind.BAD_RESPONSE:
        return s.gettext(
            "⚠️ The image service sent back something that is not a usable image. Try again. "
            "You were not charged for it."
        )
    return s.gettext(
        "⚠️ The image service is having trouble at the moment. Please try again shortly. "
        "You were not charged for it."
    )


MISSING_REASON = {
    ErrorKind.REFUSED: N_("the image service refused it under its content policy"),
    ErrorKind.OUT_OF_CREDIT: N_("the image-service account ran out of credit"),
    ErrorKind.AUTH: N_("the image service rejected the bot's API key"),
    ErrorKind.RATE_LIMITED: N_("the image service was too busy"),
    ErrorKind.TIMEOUT: N_("the image service took too long"),
    ErrorKind.BAD_RESPONSE: N_("the image service sent back something unusable"),
}
"""Why an image of several is missing: a clause in the parentheses of :func:`images_missing`."""

MISSING_REASON_OTHER = N_("the image service had trouble")


def images_missing(s: Speech, missing: list[Missing], *, delivered: int) -> str | None:
    """The line above a result some of whose images never came: which, and that only the
    images shown were charged. None when every image arrived."""
    if not missing:
        return None
    which = listed(
        s,
        [
            # TRANSLATORS: one missing image of a result, in a list: "image 2 (seed `1234`)".
            s.gettext("image {number} (seed `{seed}`)", number=m.number, seed=m.seed)
            for m in missing
        ],
    )
    reasons = sorted(
        {s.gettext(MISSING_REASON.get(m.error.kind, MISSING_REASON_OTHER)) for m in missing}
    )
    total = delivered + len(missing)
    # TRANSLATORS: {count} images of {total} arrived; {which} lists the missing ones,
    # {reasons} why (separated by "; ").
    text = s.ngettext(
        "⚠️ {count} of {total} images arrived: {which} could not be made ({reasons}). "
        "You were charged for {count} image, not {total}.",
        "⚠️ {count} of {total} images arrived: {which} could not be made ({reasons}). "
        "You were charged for {count} images, not {total}.",
        delivered,
        total=s.number(total),
        which=which,
        reasons="; ".join(reasons),
    )
    return clip(text, CONTENT_LIMIT)


def file_size(s: Speech, size: int) -> str:
    """A byte count as people read it: 10 MiB, 6.2 MiB, 60 KiB, 100 bytes."""
    if size >= 1024 * 1024:
        # TRANSLATORS: a file size in mebibytes (French: "Mio").
        return s.gettext("{size} MiB", size=decimal(s, size / (1024 * 1024)))
    if size >= 1024:
        # TRANSLATORS: a file size in kibibytes (French: "Kio").
        return s.gettext("{size} KiB", size=decimal(s, size / 1024))
    return s.ngettext("{count} byte", "{count} bytes", size)


def too_large_for_channel(s: Speech, limit_bytes: int) -> str:
    return s.gettext(
        "📦 The image is larger than this channel's upload limit ({limit} per image), even "
        "after compressing it. Try a smaller size. You were not charged for it.",
        limit=file_size(s, limit_bytes),
    )


def delivery_failed(s: Speech) -> str:
    return s.gettext(
        "⚠️ The image was made but I could not post it here. You were not charged for it."
    )


def unexpected_error(s: Speech) -> str:
    return s.gettext("😵 Something went wrong on my side. It has been logged; please try again.")


def missing_permission(s: Speech) -> str:
    """A command for moderators, run by someone without the right."""
    # TRANSLATORS: "Manage Server" is Discord's permission name: use Discord's own words.
    return s.gettext("You need the **Manage Server** permission to use this command.")


def servers_only(s: Speech) -> str:
    return s.gettext("This command only works inside a server.")


def check_failed(s: Speech) -> str:
    return s.gettext("You cannot use this command here.")


def not_understood(s: Speech, value: str) -> str:
    """An option value Discord sent that the command could not read."""
    return s.gettext("I could not understand the value `{value}`.", value=clip(value, 100))


def unexpected_failure(s: Speech) -> str:
    """A generation that broke in a way nobody foresaw, once it has been refunded."""
    return s.gettext(
        "😵 Something went wrong on my side. It has been logged. You were not charged for it."
    )


def progress(s: Speech, job: Job, *, position: int, elapsed: float) -> str:
    """The public line under a job while it waits or runs (the server's language)."""
    count = job.request.count
    if position > 0:
        return s.ngettext(
            "⏳ Waiting for a free slot: you are number {position} in line. ({count} image)",
            "⏳ Waiting for a free slot: you are number {position} in line. ({count} images)",
            count,
            position=s.number(position),
        )
    # TRANSLATORS: the progress line; {elapsed} is a duration such as "12 s".
    return s.ngettext(
        "🎨 Generating {count} image… {elapsed}",
        "🎨 Generating {count} images… {elapsed}",
        count,
        elapsed=seconds(s, elapsed),
    )


def image_filename(generation_id: int, number: int, extension: str) -> str:
    """An image's file name under a result: its generation and its number (image k = U<k>),
    which is how a U button finds it again in the message. Never translated: it is how
    the message is read back, whatever language it was posted in."""
    return f"imagine-{generation_id}-{number}.{extension}"


_IMAGE_FILENAME = re.compile(r"imagine-(?P<id>[0-9]+)-(?P<number>[1-9])\.[a-z]+")


def image_number(filename: str, generation_id: int) -> int | None:
    """The image number a result's attachment name says, if it is one of this generation's."""
    match = _IMAGE_FILENAME.fullmatch(filename)
    if match is None or int(match["id"]) != generation_id:
        return None
    return int(match["number"])


def pick_label(s: Speech, number: int) -> str:
    """The U<k> button's label, which also names image k in the Seeds field."""
    # TRANSLATORS: the button that posts image {number} of a result alone, full size (as
    # U1–U4 under other image bots' grids); keep it as short as "U1" (a button label).
    return clip(s.gettext("U{number}", number=number), BUTTON_LABEL_LIMIT)


def seeds_value(s: Speech, seeds: list[tuple[int, int]]) -> str:
    """Each image's seed by its number, as the U buttons name the images."""
    if len(seeds) == 1:
        return f"`{seeds[0][1]}`"
    return " · ".join(f"{pick_label(s, number)}\u00a0`{seed}`" for number, seed in seeds)


def size_text(s: Speech, request: GenerationRequest) -> str:
    """The size as members chose it: the preset's name (an option value, as typed) and
    its sides, or the custom sides."""
    width, height = request.dimensions
    if request.preset is None:
        return s.gettext("custom {width}×{height}", width=width, height=height)
    return f"{request.preset} ({width}×{height})"


def on_off(s: Speech, value: bool) -> str:
    """A switch's state as a field value."""
    # TRANSLATORS: a setting's state, e.g. the safety checker "on" or "off".
    return s.gettext("on") if value else s.gettext("off")


def made_from(s: Speech, generation_id: int, url: str) -> str:
    """A link to the result another one was made from."""
    # TRANSLATORS: a Markdown link to the result this one was made from; keep [..](..).
    return s.gettext("[generation #{id}]({url})", id=generation_id, url=url)


def unnamed_member(s: Speech, user_id: int) -> str:
    """Who asked, where their name is not known (an embed's author shows no mentions)."""
    # TRANSLATORS: stands for a member's name when it is not known, in "Requested by {name}".
    return s.gettext("member {id}", id=user_id)


def result_embeds(
    s: Speech,
    job: Job,
    *,
    filenames: list[str],
    seeds: list[tuple[int, int]] | None = None,
    elapsed: float,
    requester_name: str,
    requester_avatar: str | None,
    source_url: str | None = None,
) -> list[discord.Embed]:
    """The embed(s) under a result; several images share one URL so Discord shows a gallery.

    Public: ``s`` is the server's language (the member's, for a private result). The
    footer is not translated (see :func:`generation_footer`).
    """
    request = job.request
    gallery_url = f"https://imagine.invalid/generation/{job.generation_id}"
    main = discord.Embed(
        description=typed(request.prompt, EMBED_DESCRIPTION_LIMIT),
        colour=BRAND_COLOUR,
        url=gallery_url if len(filenames) > 1 else None,
    )
    main.set_author(
        name=clip(s.gettext("Requested by {name}", name=requester_name), AUTHOR_NAME_LIMIT),
        icon_url=requester_avatar,
    )
    several = len(seeds or ()) > 1
    for index, (name, value) in enumerate(settings_fields(s, request, seeds)):
        main.add_field(name=name, value=value, inline=index > 0 or not several)
    # TRANSLATORS: the result's field with how long the generation took.
    main.add_field(name=s.gettext("Time"), value=seconds(s, elapsed, tenths=True), inline=True)
    if source_url and job.parent_id is not None:
        main.add_field(
            # TRANSLATORS: the field linking to the result this one was made from.
            name=s.gettext("Made from"),
            value=made_from(s, job.parent_id, source_url),
            inline=True,
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
    """The footer of every result; also how a restarted bot recognises a posted result.

    Deliberately not translated, in every language the same: recovery after a restart
    finds a posted result by comparing this footer exactly (``flow._find_posted_result``)
    and "Imagine this" reads it back (:func:`result_in_footer`). A translated footer
    would have to be recognised in every language it was ever posted in, including after
    a server changed its language or a translation changed. It names the model and an id,
    which read the same in any language.
    """
    return f"FLUX.1 SRPO · generation #{generation_id}"


def picked_footer(generation_id: int, number: int) -> str:
    """The footer of a picked image: unlike a result's, so recovery never mistakes it for one.
    Not translated either: a Delete under it and "Imagine this" read it back."""
    return f"{generation_footer(generation_id)} · image {number}"


def picked_embed(
    s: Speech,
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
    embed.set_author(
        name=clip(
            s.gettext("Image {number}, picked by {name}", number=number, name=picked_by),
            AUTHOR_NAME_LIMIT,
        )
    )
    for name, value in settings_fields(s, remix.request_from(params)):
        embed.add_field(name=name, value=value, inline=True)
    if source_url:
        embed.add_field(
            # TRANSLATORS: the field linking a picked image to the result it comes from.
            name=s.gettext("From"),
            value=made_from(s, record.id, source_url),
            inline=True,
        )
    embed.set_image(url=f"attachment://{filename}")
    embed.set_footer(text=picked_footer(record.id, number))
    return embed


def pick_refused(s: Speech, owner_id: int) -> str:
    return s.gettext(
        "Only <@{owner}>, who asked for these images, or a moderator can pick one. "
        "Click an image to see it full size.",
        owner=owner_id,
    )


def pick_failed(s: Speech) -> str:
    return s.gettext("⚠️ I could not fetch that image from Discord just now. Please try again.")


def edit_title(s: Speech, number: int | None) -> str:
    """The Edit dialog's title (45 characters at most); a picked image keeps its seed."""
    if number is None:
        # TRANSLATORS: a dialog's title, at most 45 characters.
        title = s.gettext("Edit and generate again")
    else:
        # TRANSLATORS: a dialog's title, at most 45 characters.
        title = s.gettext("Edit image {number}: same seed, close variation", number=number)
    return clip(title, MODAL_TITLE_LIMIT)


def edit_seed_label(s: Speech, number: int | None) -> str:
    """The seed box's label (45 characters at most)."""
    if number is None:
        # TRANSLATORS: a text box's label in a dialog, at most 45 characters.
        label = s.gettext("Seed (empty for a random one)")
    else:
        # TRANSLATORS: a text box's label in a dialog, at most 45 characters.
        label = s.gettext("Seed (kept: a new prompt stays close to it)")
    return clip(label, TEXT_INPUT_LABEL_LIMIT)


def edit_labels(
    s: Speech, *, steps: tuple[int, int], guidance: tuple[float, float]
) -> dict[str, str]:
    """The Edit dialog's other text boxes, by custom id (45 characters each at most)."""
    labels = {
        # TRANSLATORS: a text box's label in a dialog, at most 45 characters.
        "prompt": s.gettext("Prompt"),
        # TRANSLATORS: a text box's label in a dialog, at most 45 characters.
        "steps": s.gettext("Steps ({low}–{high})", low=s.number(steps[0]), high=s.number(steps[1])),
        # TRANSLATORS: a text box's label in a dialog, at most 45 characters.
        "guidance": s.gettext(
            "Guidance ({low}–{high})", low=s.number(guidance[0]), high=s.number(guidance[1])
        ),
    }
    return {key: clip(label, TEXT_INPUT_LABEL_LIMIT) for key, label in labels.items()}


EDIT_NOT_A_NUMBER = {
    "seed": N_("Seed must be a whole number; you typed “{typed}”."),
    "steps": N_("Steps must be a whole number; you typed “{typed}”."),
    "guidance": N_("Guidance must be a number; you typed “{typed}”."),
}
"""What the Edit dialog says when a box holds no number, by the box's custom id."""


def edit_not_a_number(s: Speech, box: str, text: str) -> str:
    return s.gettext(EDIT_NOT_A_NUMBER[box], typed=typed(text, 40))


_FOOTER_ID = re.compile(r"FLUX\.1 SRPO · generation #([0-9]{1,19})(?: · image ([0-9]{1,2}))?")


def result_in_footer(footer: str | None) -> tuple[int, int | None] | None:
    """The generation id a result's footer names (``generation_footer``), and the image
    number if it is a picked image (``picked_footer``); None for any other footer.
    Footers are never translated, so one pattern reads posts made in any language."""
    match = _FOOTER_ID.fullmatch(footer or "")
    if match is None:
        return None
    return int(match[1]), None if match[2] is None else int(match[2])


def posted_below(s: Speech, jump_url: str) -> str:
    """The progress line, once the result had to go out as a new message."""
    return s.gettext("✅ Your image is ready: {link}", link=jump_url)


def told_in_private(s: Speech, channel_id: int, text: str) -> str:
    """An outcome sent as a direct message, when the channel could not take it."""
    return clip(
        # TRANSLATORS: a direct message; {channel} links the channel, {text} is the outcome.
        s.gettext("About your request in <#{channel}>: {text}", channel=channel_id, text=text),
        CONTENT_LIMIT,
    )


def ready_in_channel(s: Speech, mention: str, note: str | None = None) -> str:
    ready = s.gettext("{mention}, your image is ready.", mention=mention)
    return ready if note is None else clip(f"{ready}\n{note}", CONTENT_LIMIT)


def personal_use_off(s: Speech) -> str:
    return s.gettext("🏠 This bot only makes images inside servers it is in. Try it there!")


def personal_use_members_only(s: Speech) -> str:
    return s.gettext(
        "🔒 Outside servers, this bot is only for members of a server it is in. "
        "Join one of them, or use it there."
    )


def too_late_to_deliver(s: Speech) -> str:
    """A job whose only way to the member (its interaction, 15 minutes) ran out before it
    could be made: refunded without generating."""
    return s.gettext(
        "⏳ Your image could not be made in time: here I can only answer within Discord's "
        "15-minute window, and it ran out while your request waited. Please try again. "
        "You were not charged."
    )


def finishing_too_late(s: Speech, minutes: int) -> str:
    """Refused up front where only the interaction can deliver: its token lasts 15 minutes."""
    return s.gettext(
        "⏳ The bot is too busy to finish your image within Discord's {minutes}-minute "
        "window here, and it cannot post here any other way. Please try again later. "
        "You were not charged.",
        minutes=s.number(minutes),
    )


def private_result_dismiss(s: Speech) -> str:
    return s.gettext(
        "🔒 Only you can see this result here (a server's moderation log may record it). "
        "To remove it, use **Dismiss message** under it."
    )


def cancelled(s: Speech) -> str:
    return s.gettext("🛑 Cancelled before it started. You were not charged for it.")


def settings_fields(
    s: Speech, request: GenerationRequest, seeds: list[tuple[int, int]] | None = None
) -> list[tuple[str, str]]:
    """The settings that reproduce an image, as (name, value) pairs, the seed first;
    ``seeds`` gives each image's seed by its number (image k was asked for alone with its
    own seed). Option values (acceleration, preset names) are shown as members type them."""
    seed = (seed_name(s, 1), f"`{request.seed}`")
    if seeds:
        seed = (seed_name(s, len(seeds)), seeds_value(s, seeds))
    return [
        seed,
        # TRANSLATORS: a result's field name (the image's size).
        (s.gettext("Size"), size_text(s, request)),
        # TRANSLATORS: a result's field name (denoising steps, the /imagine option).
        (s.gettext("Steps"), s.number(request.steps)),
        # TRANSLATORS: a result's field name (guidance scale, the /imagine option).
        (s.gettext("Guidance"), exact_number(request.guidance)),
        # TRANSLATORS: a result's field name (the /imagine option "acceleration").
        (s.gettext("Acceleration"), request.acceleration),
        # TRANSLATORS: a result's field name (the image service's NSFW safety checker).
        (s.gettext("Safety checker"), on_off(s, request.enable_safety_checker)),
        *style_field(s, request.style_name),
    ]


def seed_name(s: Speech, count: int) -> str:
    """The seed field's name: "Seed" for one image, "Seeds" (one per U button) for several."""
    if count == 1:
        # TRANSLATORS: a result's field name: the seed that makes its image again.
        return s.gettext("Seed")
    # TRANSLATORS: a result's field name: each image's seed, by its U button ("U1 `12`").
    return s.gettext("Seeds")


def style_field(s: Speech, name: str | None) -> list[tuple[str, str]]:
    """The "Style" field of a result or Info, when a server style was used."""
    # TRANSLATORS: a result's field name (the server style the member chose).
    return [] if not name else [(s.gettext("Style"), typed(name, 100))]


def error_embed(text: str) -> discord.Embed:
    """An error in an embed; ``text`` is already in the reader's language."""
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


def _audit_language(s: Speech, value: str | None) -> str:
    """A ``/settings language`` choice as the audit log stored it (a Discord locale code)."""
    if value is None:
        # TRANSLATORS: /settings language left to the server's own Discord language, short.
        return s.gettext("the server's own")
    return CHOOSABLE.get(value, value)


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
    if action is AuditAction.LANGUAGE:
        old, new = _audit_language(s, entry.old_value), _audit_language(s, entry.new_value)
        return s.gettext(
            "{when} {actor} language of public messages: {old} → {new}", old=old, new=new, **who
        )
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
    per-day lines and the CSV export's ``cost_usd`` column agree to the cent. A per-day
    line's date is the reader's short form (14.03.25, 2025/03/14); the CSV keeps ISO days.
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
        f"`{s.date(t.day)}` {s.number(t.images)}{cost(t.cost_pico_usd)}"
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
    language: str | None = None,
) -> discord.Embed:
    """``language``: the public language as :func:`language_name` names it (None: no field)."""
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
    if language is not None:
        embed.add_field(name=s.gettext("Language of public messages"), value=language, inline=False)
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

LOG_NEEDS = (
    # TRANSLATORS: Discord's permission names: use the words Discord's own settings show.
    N_("View Channel"),
    N_("Send Messages"),
    N_("Embed Links"),
    N_("Attach Files"),
)
"""What the bot needs in the log channel: see it, post, and show an embed with a thumbnail.
English, as ``missing_log_permissions`` names them; :func:`log_channel_unusable` says them
in Discord's words for the moderator's language."""


def log_channel_set(s: Speech, channel_mention: str) -> str:
    return s.gettext(
        "Every generation on this server will also be posted in {channel}, "
        "with who asked (without pinging them), the prompt, size, seed, a thumbnail and a "
        "link to the result. Prompts refused by the server's rules are logged there too.",
        channel=channel_mention,
    )


def log_channel_off(s: Speech, old_mention: str | None) -> str:
    if old_mention is None:
        return s.gettext("The moderation log was already off.")
    return s.gettext(
        "The moderation log is off; generations are no longer posted in {channel}.",
        channel=old_mention,
    )


def log_channel_unusable(s: Speech, channel_mention: str, missing: list[str]) -> str:
    """``missing``: names from :data:`LOG_NEEDS` (English), said here in ``s``."""
    # TRANSLATORS: {permissions} lists Discord permission names, joined as your language
    # lists things ("Send Messages and Embed Links").
    return s.gettext(
        "⚠️ I can't post the log in {channel}: I'm missing **{permissions}** there. Give me "
        "those permissions in the channel settings (or pick another channel), then run this "
        "again. Nothing changed.",
        channel=channel_mention,
        permissions=listed(s, [s.gettext(name) for name in missing]),
    )


def log_footer(s: Speech, generation_id: int) -> str:
    """Unlike the result's footer, so resuming never mistakes a log entry for the result
    (the log is read back by nothing, so it may be translated)."""
    return s.gettext("moderation log · generation #{id}", id=generation_id)


def log_delivered(
    s: Speech,
    job: Job,
    *,
    images: int,
    jump_url: str,
    thumbnail_name: str | None,
    thumbnail_withheld: bool = False,
) -> tuple[str, discord.Embed]:
    """A log entry for a delivered generation: a line naming who and where, and an embed,
    in the server's language (``s``).

    ``thumbnail_withheld``: the image was made in an age-restricted channel and the log
    channel is not one, so the entry says why it shows no preview."""
    request = job.request
    content = clip(
        s.ngettext(
            "🖼️ <@{user}> generated {count} image in <#{channel}>",
            "🖼️ <@{user}> generated {count} images in <#{channel}>",
            images,
            user=job.user_id,
            channel=job.channel_id,
        ),
        CONTENT_LIMIT,
    )
    prompt = typed(request.prompt, LOG_PROMPT_LIMIT)
    # TRANSLATORS: a Markdown link under a prompt in the moderation log; keep [..](..).
    jump = s.gettext("[Jump to the result]({url})", url=jump_url)
    embed = discord.Embed(description=f"{prompt}\n\n{jump}", colour=LOG_COLOUR)
    embed.add_field(name=s.gettext("Size"), value=size_text(s, request), inline=True)
    embed.add_field(name=seed_name(s, 1), value=f"`{request.seed}`", inline=True)
    embed.add_field(
        # TRANSLATORS: a moderation log field: images delivered of those asked for.
        name=s.gettext("Images"),
        value=s.gettext(
            "{delivered} of {asked}", delivered=s.number(images), asked=s.number(request.count)
        ),
        inline=True,
    )
    for name, value in style_field(s, request.style_name):
        embed.add_field(name=name, value=value, inline=True)
    if thumbnail_name is not None:
        embed.set_thumbnail(url=f"attachment://{thumbnail_name}")
    elif thumbnail_withheld:
        embed.add_field(
            # TRANSLATORS: a moderation log field: the image's thumbnail.
            name=s.gettext("Preview"),
            value=s.gettext(
                "🔞 Not shown: made in an age-restricted channel, and this log channel is "
                "not one. Jump to the result to see it."
            ),
            inline=False,
        )
    embed.set_footer(text=log_footer(s, job.generation_id))
    return content, embed


def log_refused(
    s: Speech, *, user_id: int, channel_id: int, prompt: str, refusal: Exception
) -> tuple[str, discord.Embed]:
    """A log entry for a prompt the server's rules refused (nothing was generated)."""
    content = clip(
        s.gettext("🚫 <@{user}> was refused in <#{channel}>", user=user_id, channel=channel_id),
        CONTENT_LIMIT,
    )
    embed = discord.Embed(description=typed(prompt, LOG_PROMPT_LIMIT), colour=LOG_REFUSED_COLOUR)
    if isinstance(refusal, PromptBlocked):
        reason = s.gettext(
            "the prompt contains the blocked word or phrase {word}", word=code(refusal.matched)
        )
    elif isinstance(refusal, ChannelNotAllowed):
        reason = s.gettext("/imagine is not enabled in that channel")
    else:
        reason = refusal_reason(s, refusal)
    # TRANSLATORS: a moderation log field: why the rules refused the prompt.
    embed.add_field(name=s.gettext("Why"), value=clip(reason, FIELD_VALUE_LIMIT), inline=False)
    embed.set_footer(text=s.gettext("moderation log · refused by the server's rules"))
    return content, embed


def refusal_reason(s: Speech, error: Exception) -> str:
    """Any other refusal, for the log: what the member was told."""
    return refusal(s, error)


def style_line(style: Style) -> str:
    return f"**{typed(style.name, 40)}**: {typed(style.text, 120)}"


# -- result buttons -------------------------------------------------------------------------

RESULT_ACTION_LABELS = {
    # TRANSLATORS: a button under a result: the same settings, a new seed (at most 80 chars).
    "reroll": N_("Re-roll"),
    # TRANSLATORS: a button under a result: close variations of it (at most 80 chars).
    "vary": N_("Variations"),
    # TRANSLATORS: a button under a result: change its prompt or settings (at most 80 chars).
    "edit": N_("Edit"),
    # TRANSLATORS: a button under a result: every setting that made it (at most 80 chars).
    "info": N_("Info"),
    # TRANSLATORS: a button under a result: delete the message (at most 80 chars).
    "delete": N_("Delete"),
}
"""The labels of the buttons under a result, by the action in their custom id."""


def action_label(s: Speech, action: str) -> str:
    """A result button's label (``pick``: see :func:`pick_label`)."""
    return clip(s.gettext(RESULT_ACTION_LABELS[action]), BUTTON_LABEL_LIMIT)


def exact_number(value: float) -> str:
    """A number as short as possible yet exact (see ``remix.exact_number``): a value to
    copy back into a command, so it keeps the dot whatever the language."""
    return remix.exact_number(value)


def result_too_old(s: Speech, retention_days: int) -> str:
    """A button under a result whose record was pruned (RETENTION_DAYS)."""
    return s.ngettext(
        "This image is too old: I keep the details of generations for {count} day, "
        "so its buttons no longer work. Start a new one with /imagine.",
        "This image is too old: I keep the details of generations for {count} days, "
        "so its buttons no longer work. Start a new one with /imagine.",
        retention_days,
    )


def record_missing(s: Speech) -> str:
    return s.gettext(
        "I no longer have the record of this image (it may have been deleted), "
        "so its buttons no longer work. Start a new one with /imagine."
    )


def button_not_valid(s: Speech) -> str:
    """A press whose custom id names nothing this button may act on here (forged or garbled)."""
    return s.gettext("This button does not belong to a result here, so I cannot act on it.")


def delete_refused(s: Speech, owner_id: int) -> str:
    return s.gettext(
        "Only <@{owner}>, who asked for this image, or someone with Manage Messages can delete it.",
        owner=owner_id,
    )


def delete_not_possible_here(s: Speech) -> str:
    return s.gettext(
        "🗑️ I can't delete messages here: I'm not a member of this conversation or server, "
        "so Discord does not let me remove this result."
    )


def delete_failed(s: Speech) -> str:
    return s.gettext("I could not delete that message; I may lack permission in this channel.")


def deleted(s: Speech) -> str:
    return s.gettext("🗑️ Deleted.")


def info_embed(
    s: Speech,
    record: GenerationRecord,
    *,
    numbers: list[int] | None = None,
    picked: int | None = None,
) -> discord.Embed:
    """Every parameter of a generation, plus a /imagine line to reproduce it.

    ``numbers`` are the images the pressed result holds (all, unless some never came);
    ``picked`` is the one image a U button posted, whose own seed and line are shown.
    The /imagine line is a command to copy: it stays as typed in any language.
    """
    params = remix.picked(record.params, picked) if picked else record.params
    if picked:
        title = s.gettext("Generation #{id} · image {number}", id=record.id, number=picked)
    else:
        title = s.gettext("Generation #{id}", id=record.id)
    embed = discord.Embed(
        title=clip(title, FIELD_NAME_LIMIT),
        description=typed(params.prompt, 1500),
        colour=BRAND_COLOUR,
    )
    if params.size_preset:
        size = f"{params.size_preset} ({params.width}×{params.height})"
    else:
        size = s.gettext("custom {width}×{height}", width=params.width, height=params.height)
    if picked:
        seeds = [(picked, params.seed)]
    else:
        shown = numbers or list(range(1, params.count + 1))
        seeds = [(number, remix.image_seed(params, number)) for number in shown]
    fields = [
        (seed_name(s, len(seeds)), seeds_value(s, seeds)),
        (s.gettext("Size"), size),
        (s.gettext("Steps"), s.number(params.steps)),
        (s.gettext("Guidance"), exact_number(params.guidance)),
        (s.gettext("Acceleration"), params.acceleration),
        (s.gettext("Images"), s.number(params.count)),
        (s.gettext("Safety checker"), on_off(s, params.safety_checker)),
        *style_field(s, params.style_name),
        # TRANSLATORS: Info's field naming the member who asked for the generation.
        (s.gettext("Requested by"), f"<@{record.user_id}>"),
        # TRANSLATORS: Info's field with when the generation was made (a Discord timestamp).
        (s.gettext("Created"), f"<t:{int(record.created_at.timestamp())}:f>"),
    ]
    for index, (name, value) in enumerate(fields):
        embed.add_field(name=name, value=value, inline=index > 0 or len(seeds) == 1)
    embed.add_field(
        # TRANSLATORS: Info's field with a /imagine line that makes the image again.
        name=s.gettext("Reproduce it"),
        value=code_block(remix.imagine_command(params), FIELD_VALUE_LIMIT),
        inline=False,
    )
    if params.count > 1:
        embed.add_field(
            name=s.gettext("One image alone"),
            value=s.gettext(
                "The same line with `count:1` and that image's seed makes it again, alone."
            ),
            inline=False,
        )
    return embed


# -- the queue -----------------------------------------------------------------------------

CANCEL_OUTCOME_TEXT = {
    CancelOutcome.CANCELLED: N_("🛑 Cancelled. You were not charged for it."),
    CancelOutcome.NOT_ALLOWED: N_("Only the member who asked, or a moderator, can cancel this."),
    CancelOutcome.ALREADY_RUNNING: N_(
        "It is already being generated, so it can no longer be "
        "cancelled. You will only be charged for images you receive."
    ),
    CancelOutcome.UNKNOWN: N_(
        "That request is no longer waiting: it has finished or was cancelled."
    ),
}


def cancel_outcome(s: Speech, outcome: CancelOutcome) -> str:
    return s.gettext(CANCEL_OUTCOME_TEXT[outcome])


def cancel_label(s: Speech) -> str:
    """The Cancel button under a waiting job's progress line."""
    # TRANSLATORS: a button under a waiting request: withdraw it (at most 80 characters).
    return clip(s.gettext("Cancel"), BUTTON_LABEL_LIMIT)


def queue_state(s: Speech, *, position: int | None, elapsed: float | None) -> str:
    """Where one request of ``/queue`` stands: not in this process's line (``position``
    None), waiting at ``position``, or generating for ``elapsed`` seconds."""
    if elapsed is not None:
        return s.gettext("generating for {elapsed}", elapsed=seconds(s, elapsed))
    if position is not None and position > 0:
        return s.gettext("number {position} in line", position=s.number(position))
    return s.gettext("waiting")


def queue_line(s: Speech, record: GenerationRecord, state: str, *, show_owner: bool) -> str:
    prompt = typed(one_line(record.params.prompt), 60)
    images = s.ngettext("{count} image", "{count} images", record.params.count)
    if show_owner:
        # TRANSLATORS: a /queue line: request id, who asked, images, state, prompt.
        return s.gettext(
            "#{id} <@{user}> · {images} · {state} · “{prompt}”",
            id=record.id,
            user=record.user_id,
            images=images,
            state=state,
            prompt=prompt,
        )
    # TRANSLATORS: a /queue line: request id, images, state, prompt.
    return s.gettext(
        "#{id} {images} · {state} · “{prompt}”",
        id=record.id,
        images=images,
        state=state,
        prompt=prompt,
    )


def queue_embed(
    s: Speech, lines: list[str], *, total: int, whole_server: bool, hidden: int
) -> discord.Embed:
    title = s.gettext("Queue on this server") if whole_server else s.gettext("Your requests")
    if not lines:
        if whole_server:
            description = s.gettext("Nothing is waiting.")
        else:
            description = s.gettext("You have nothing waiting.")
    else:
        description = "\n".join(lines)
        if hidden:
            description += "\n" + s.ngettext("… and {count} more", "… and {count} more", hidden)
    embed = discord.Embed(
        title=title, description=clip(description, EMBED_DESCRIPTION_LIMIT), colour=BRAND_COLOUR
    )
    embed.set_footer(
        text=s.ngettext("{count} request in flight", "{count} requests in flight", total)
    )
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


# -- /settings language ----------------------------------------------------------------------


def language_name(s: Speech, language: str | None, server_locale: str) -> str:
    """A server's public language as moderators read it: the chosen one in its own name,
    or the server's Discord language (the bot's English where it does not speak that)."""
    if language is not None:
        return CHOOSABLE.get(language, language)
    spoken = speech(server_locale)
    own = CHOOSABLE.get(spoken.discord_locale) or spoken.locale.get_display_name() or "English"
    return s.gettext("the server's own Discord language ({language})", language=own)


def language_set(s: Speech, language: str | None, old: str | None, server_locale: str) -> str:
    """The answer to ``/settings language``, in the moderator's own language."""
    shown = language_name(s, language, server_locale)
    if language == old:
        return s.gettext("Public messages here were already in {language}.", language=shown)
    if language is None:
        return s.gettext(
            "Results, progress and the moderation log here now follow {language}. "
            "Private replies always follow each member's own Discord language.",
            language=shown,
        )
    return s.gettext(
        "Results, progress and the moderation log here are now in **{language}**. "
        "Private replies always follow each member's own Discord language.",
        language=shown,
    )
