"""Draw a saved Discord message the way a member sees it in Discord's dark theme.

``message.json`` is faithful but unreadable to a newcomer; this turns it into a
picture without Discord, a browser or the network. It is deliberately a pure
function of the message and its image bytes so a test can call it directly.

Only Pillow's bundled font (``ImageFont.load_default(size=...)``, Pillow >= 10.1)
is used, so the picture is the same on every machine. That font has no emoji and
few accents: accents fall back to the bare letter, symbols to a look-alike,
emoji are left out, so text stays readable instead of turning into boxes.
Everything is laid out in Discord's CSS pixels and drawn at ``SCALE`` times that.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from PIL import Image, ImageColor, ImageDraw, ImageFont, ImageOps

Json = Mapping[str, Any]

SCALE = 2  # drawn at twice Discord's CSS pixels, like a high-density screen
WIDTH = 560  # a chat column: enough for a full embed and a row of five buttons

# Discord's dark theme.
BACKGROUND = "#313338"
EMBED_BACKGROUND = "#2B2D31"
CODE_BACKGROUND = "#1E1F22"
DEFAULT_BAR = "#1E1F22"  # an embed without a colour
TEXT = "#DBDEE1"
HEADER = "#F2F3F5"
MUTED = "#949BA4"
LINK = "#00A8FC"
BLURPLE = "#5865F2"
SPINE = "#4E5058"
BUTTON_COLOURS = {1: "#5865F2", 2: "#4E5058", 3: "#248046", 4: "#DA373C", 5: "#4E5058"}
AVATAR_COLOURS = ("#5865F2", "#757E8A", "#3BA55C", "#FAA61A", "#ED4245", "#EB459F")
EPHEMERAL = 1 << 6

# Layout, in CSS pixels, after Discord's stylesheet.
GUTTER = 72  # where message text starts, right of the avatar
AVATAR = 40
EMBED_WIDTH = 432  # 4 bar + 12 padding + 400 content + 16 padding
EMBED_INNER = 400
IMAGE_MAX = 400
GAP = 4  # between gallery tiles
BUTTON_HEIGHT = 32

FALLBACKS = {"×": "x", "•": "·", "–": "-", "—": "-", "→": "->", "←": "<-", "\u00a0": " "}
MARKDOWN = re.compile(r"(`[^`]+`|\*\*[^*]+\*\*|\[[^\]]+\]\([^)\s]+\))")
MENTION = re.compile(r"<(@[!&]?|#)(\d+)>")
AVATAR_URL = re.compile(r"/embed/avatars/(\d)\.png")


def render_preview(message: Json, images: Mapping[str, bytes]) -> bytes:
    """A PNG of ``message`` (Discord's JSON shape) with ``images`` keyed by the urls it names."""
    canvas = Canvas(WIDTH, 4000)
    y = 16.0
    header_top = y
    if message.get("interaction_metadata") or message.get("interaction"):
        header_top = _draw_command_line(canvas, message, y)
    _draw_header(canvas, message, header_top)
    y = header_top + 22
    content = _resolve_mentions(str(message.get("content") or ""), message)
    if content:
        y = canvas.paragraph(GUTTER, y, content, WIDTH - GUTTER - 16, size=16, line=22)
    for embed, urls in _embed_groups(message.get("embeds") or []):
        card = _embed_card(embed, [_load(images, url) for url in urls])
        y += 4
        canvas.paste_rounded(card, GUTTER, y, radius=4)
        y += card.height / SCALE
    rows = message.get("components") or []
    if rows:
        y += 4
        for row in rows:
            y = _draw_components(canvas, row.get("components") or [], y + 4)
    if int(message.get("flags") or 0) & EPHEMERAL:
        y = _draw_ephemeral_note(canvas, y + 4)
    return canvas.png(max(y + 16, header_top + AVATAR + 16))


# --- text -----------------------------------------------------------------------------------


@cache
def _font(size: float) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(size=size * SCALE)
    if not isinstance(font, ImageFont.FreeTypeFont):  # pragma: no cover - old Pillow
        raise RuntimeError("the preview needs Pillow >= 10.1 built with FreeType")
    return font


def _mask(char: str) -> tuple[tuple[int, int], bytes]:
    mask = _font(14).getmask(char)
    return mask.size, bytes(mask)


@cache
def _has_glyph(char: str) -> bool:
    """FreeType draws a missing glyph as the font's box; compare against that box."""
    return _mask(char) != _mask("\U0010fffd")


NBSP = "\u00a0"


def printable(text: str) -> str:
    """``text`` with what the bundled font cannot draw replaced by what it can, or dropped."""
    out: list[str] = []
    for char in text:
        if char in ("\n", NBSP) or _has_glyph(char):
            out.append(char)
        elif char in FALLBACKS:
            out.append(FALLBACKS[char])
        elif (bare := _without_accents(char)) and all(_has_glyph(c) for c in bare):
            out.append(bare)
        elif unicodedata.category(char) not in ("So", "Sk", "Mn", "Me", "Cf", "Co"):
            out.append("?")  # a letter we cannot draw still takes a place
    lines = (line.strip() for line in "".join(out).split("\n"))
    return re.sub(r"(?<=\S) {2,}", " ", "\n".join(lines))


def _without_accents(char: str) -> str:
    bare = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return "" if bare == char else bare


def _emoji(component: Json) -> str:
    """A button's emoji if the font can draw it; otherwise nothing, the label says enough."""
    name = str((component.get("emoji") or {}).get("name") or "")
    drawn = [c for c in name if unicodedata.category(c) not in ("Mn", "Cf")]
    return name if drawn and all(_has_glyph(c) for c in drawn) else ""


def measure(text: str, size: float) -> float:
    return _font(size).getlength(text) / SCALE


@dataclass(frozen=True)
class Piece:
    """A word (with its trailing space) in one style, as laid out on a line."""

    text: str
    style: str  # "plain", "bold", "code" or "link"
    width: float
    glued: bool = False  # ends in a no-break space: never the last on a line before the next


def _pieces(text: str, size: float) -> list[Piece]:
    pieces: list[Piece] = []
    for chunk in MARKDOWN.split(text):
        if not chunk:
            continue
        style, body = "plain", chunk
        if chunk.startswith("`") and chunk.endswith("`") and len(chunk) > 2:
            style, body = "code", chunk[1:-1]
        elif chunk.startswith("**") and chunk.endswith("**") and len(chunk) > 4:
            style, body = "bold", chunk[2:-2]
        elif chunk.startswith("[") and chunk.endswith(")"):
            style, body = "link", chunk[1 : chunk.index("](")]
        for word in re.findall(r"[^\s\u00a0]+[\s\u00a0]*|\s+", body):
            glued, word = word.endswith(NBSP), word.replace(NBSP, " ")
            pieces.append(Piece(word, style, _piece_width(word, style, size), glued))
    return pieces


def _piece_width(word: str, style: str, size: float) -> float:
    if style == "code":
        return measure(word, size * 0.85) + 4
    return measure(word, size)


def wrap(text: str, width: float, size: float) -> list[list[Piece]]:
    """Greedy word wrap of markdown-ish text, like a browser's ``white-space: pre-wrap``."""
    lines: list[list[Piece]] = []
    for paragraph in printable(text).split("\n"):
        line: list[Piece] = []
        used = 0.0
        for piece in _pieces(paragraph, size):
            visible = _piece_width(piece.text.rstrip(), piece.style, size)
            if line and used + visible > width:
                glued = line.pop() if len(line) > 1 and line[-1].glued else None
                lines.append(line)
                line, used = [], 0.0
                if glued is not None:  # a no-break space keeps its word with the next
                    line, used = [glued], glued.width
                if not piece.text.strip():
                    continue
            while visible > width and len(piece.text) > 1:  # a word longer than the line
                head = _longest_prefix(piece.text, width - used, piece.style, size)
                line.append(Piece(head, piece.style, _piece_width(head, piece.style, size)))
                lines.append(line)
                line, used = [], 0.0
                rest = piece.text[len(head) :]
                piece = Piece(rest, piece.style, _piece_width(rest, piece.style, size))
                visible = _piece_width(rest.rstrip(), piece.style, size)
            line.append(piece)
            used += piece.width
        lines.append(line)
    return lines


def _longest_prefix(word: str, width: float, style: str, size: float) -> str:
    end = 1
    while end < len(word) and _piece_width(word[: end + 1], style, size) <= width:
        end += 1
    return word[:end]


def _resolve_mentions(text: str, message: Json) -> str:
    """``<@id>`` reads as ``@name`` in Discord, so it should here too."""
    names = {str(u.get("id")): _display_name(u) for u in message.get("mentions") or []}

    def name(match: re.Match[str]) -> str:
        kind, snowflake = match.groups()
        if kind.startswith("@"):
            return "@" + names.get(snowflake, "unknown-user")
        return "#channel"

    return MENTION.sub(name, text)


def _display_name(user: Json) -> str:
    return str(user.get("global_name") or user.get("username") or "someone")


# --- drawing --------------------------------------------------------------------------------


def px(value: float) -> int:
    return round(value * SCALE)


def _mix(colour: str, other: str, amount: float) -> str:
    """What ``colour`` at partial opacity over ``other`` looks like (disabled buttons)."""
    pairs = zip(ImageColor.getrgb(colour), ImageColor.getrgb(other), strict=False)
    return "#" + "".join(f"{round(a + (b - a) * amount):02X}" for a, b in pairs)


class Canvas:
    """An RGB image addressed in CSS pixels; drawing calls return where the next thing goes."""

    def __init__(self, width: float, height: float, background: str = BACKGROUND) -> None:
        self.background = background
        self.image = Image.new("RGB", (px(width), px(height)), background)
        self.draw = ImageDraw.Draw(self.image)

    def text(
        self, x: float, y: float, text: str, *, size: float, fill: str, bold: bool = False
    ) -> float:
        """Draw one line vertically centred on ``y``; return its width."""
        stroke = 0.22 * size / 14 * SCALE if bold else 0
        self.draw.text(
            (px(x), px(y)),
            text,
            font=_font(size),
            fill=fill,
            anchor="lm",
            stroke_width=stroke,
            stroke_fill=fill,
        )
        return measure(text, size)

    def paragraph(
        self,
        x: float,
        y: float,
        text: str,
        width: float,
        *,
        size: float,
        line: float,
        fill: str = TEXT,
        bold: bool = False,
    ) -> float:
        """Wrapped text from top ``y``; return the y below its last line."""
        for pieces in wrap(text, width, size):
            cursor = x
            middle = y + line / 2
            for piece in pieces:
                if piece.style == "code":
                    body = piece.text.rstrip()
                    box = (cursor, middle - size * 0.6, cursor + measure(body, size * 0.85) + 4)
                    self.rect(box[0], box[1], box[2], middle + size * 0.6, CODE_BACKGROUND, 3)
                    self.text(cursor + 2, middle, body, size=size * 0.85, fill=fill)
                else:
                    colour = LINK if piece.style == "link" else fill
                    strong = bold or piece.style == "bold"
                    self.text(cursor, middle, piece.text, size=size, fill=colour, bold=strong)
                cursor += piece.width
            y += line
        return y

    def rect(
        self, x0: float, y0: float, x1: float, y1: float, fill: str, radius: float = 0
    ) -> None:
        box = (px(x0), px(y0), px(x1) - 1, px(y1) - 1)
        self.draw.rounded_rectangle(box, radius=px(radius), fill=fill)

    def circle(self, x: float, y: float, diameter: float, fill: str) -> None:
        self.draw.ellipse((px(x), px(y), px(x + diameter) - 1, px(y + diameter) - 1), fill=fill)

    def avatar(self, x: float, y: float, diameter: float, colour: str) -> None:
        """Discord's default avatar: its logo, white on a coloured disc."""
        self.circle(x, y, diameter, colour)
        d = diameter
        self.rect(x + d * 0.24, y + d * 0.32, x + d * 0.76, y + d * 0.70, "#FFFFFF", d * 0.14)
        for eye in (0.39, 0.61):
            r = d * 0.06
            self.circle(x + d * eye - r, y + d * 0.5 - r, 2 * r, colour)

    def paste_rounded(self, image: Image.Image, x: float, y: float, radius: float) -> None:
        mask = Image.new("L", image.size, 0)
        box = (0, 0, image.width - 1, image.height - 1)
        ImageDraw.Draw(mask).rounded_rectangle(box, radius=px(radius), fill=255)
        self.image.paste(image, (px(x), px(y)), mask)

    def png(self, height: float) -> bytes:
        out = io.BytesIO()
        self.image.crop((0, 0, self.image.width, px(height))).save(out, "PNG", optimize=True)
        return out.getvalue()


def _draw_command_line(canvas: Canvas, message: Json, y: float) -> float:
    """The "alex used /imagine" line Discord puts above a slash command's answer."""
    meta = message.get("interaction_metadata") or message.get("interaction") or {}
    user = meta.get("user") or {}
    command = str(meta.get("name") or "command")
    middle = y + 9
    # the spine: from above the avatar, up and round to the small avatar
    elbow = 6
    canvas.rect(35, middle + elbow, 37, y + 22 + 4, SPINE)
    canvas.draw.arc(
        (px(35), px(middle), px(35 + 2 * elbow), px(middle + 2 * elbow)),
        180,
        270,
        fill=SPINE,
        width=px(2),
    )
    canvas.rect(35 + elbow, middle, GUTTER - 4, middle + 2, SPINE)
    canvas.avatar(GUTTER, middle - 8, 16, _avatar_colour(user))
    x: float = GUTTER + 20
    x += canvas.text(x, middle, printable(_display_name(user)), size=14, fill=HEADER, bold=True)
    x += canvas.text(x, middle, " used ", size=14, fill=MUTED)
    canvas.text(x, middle, f"/{command}", size=14, fill=LINK)
    return y + 22 + 4


def _draw_header(canvas: Canvas, message: Json, top: float) -> None:
    author = message.get("author") or {}
    canvas.avatar(16, top, AVATAR, _avatar_colour(author))
    middle = top + 11
    x: float = GUTTER
    x += canvas.text(x, middle, printable(_display_name(author)), size=16, fill=HEADER, bold=True)
    if author.get("bot"):
        x += 4
        tag = measure("BOT", 10) + 8
        canvas.rect(x, middle - 7.5, x + tag, middle + 7.5, BLURPLE, 3)
        canvas.text(x + 4, middle + 0.5, "BOT", size=10, fill="#FFFFFF", bold=True)
        x += tag
    canvas.text(x + 6, middle + 1, _when(message.get("timestamp")), size=12, fill=MUTED)


def _when(timestamp: object) -> str:
    """Discord's "Today at 4:43 PM", in this machine's time zone (the preview is made at once)."""
    if not isinstance(timestamp, str):
        return ""
    moment = datetime.fromisoformat(timestamp).astimezone()
    hour = moment.hour % 12 or 12
    return f"Today at {hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def _avatar_colour(user: Json) -> str:
    """Discord's default-avatar colour: the user id's timestamp bits, modulo six."""
    try:
        return AVATAR_COLOURS[(int(user.get("id") or 0) >> 22) % len(AVATAR_COLOURS)]
    except ValueError:
        return AVATAR_COLOURS[0]


def _embed_groups(embeds: Sequence[Json]) -> list[tuple[Json, list[str]]]:
    """Discord merges embeds that share a ``url`` into one card with a gallery of up to four."""
    groups: list[tuple[Json, list[str]]] = []
    for embed in embeds:
        image = str((embed.get("image") or {}).get("url") or "")
        url = embed.get("url")
        last = groups[-1] if groups else None
        if last and url and last[0].get("url") == url and image and len(last[1]) < 4:
            last[1].append(image)
            continue
        groups.append((embed, [image] if image else []))
    return groups


def _load(images: Mapping[str, bytes], url: str) -> Image.Image | None:
    data = images.get(url) or images.get(url.removeprefix("attachment://"))
    if data is None:
        return None
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def _embed_card(embed: Json, pictures: list[Image.Image | None]) -> Image.Image:
    """The embed as its own picture: the colour bar, then author, text, fields, images, footer."""
    colour = embed.get("color")
    bar = f"#{int(colour):06X}" if colour is not None else DEFAULT_BAR
    card = Canvas(EMBED_WIDTH, 3000, EMBED_BACKGROUND)
    card.rect(0, 0, 4, 3000, bar)
    left, y = 16.0, 8.0
    author = embed.get("author") or {}
    if author.get("name"):
        y += 8
        x = left
        if author.get("icon_url"):
            card.avatar(x, y, 24, _icon_colour(str(author["icon_url"])))
            x += 32
        name = printable(str(author["name"]))
        card.text(x, y + 12, name, size=14, fill=HEADER, bold=True)
        y += 24
    if embed.get("title"):
        y = card.paragraph(
            left, y + 8, str(embed["title"]), EMBED_INNER, size=16, line=22, fill=HEADER, bold=True
        )
    if embed.get("description"):
        y = card.paragraph(left, y + 8, str(embed["description"]), EMBED_INNER, size=14, line=18)
    fields = embed.get("fields") or []
    if fields:
        y = _draw_fields(card, fields, left, y + 8)
    if pictures:
        y += 16
        gallery = _gallery(pictures)
        card.paste_rounded(gallery, left, y, radius=4)
        y += gallery.height / SCALE
    footer = embed.get("footer") or {}
    footer_text = str(footer.get("text") or "")
    if embed.get("timestamp"):
        footer_text = " · ".join(filter(None, [footer_text, _when(embed["timestamp"])]))
    if footer_text:
        y += 8
        card.text(left, y + 8, printable(footer_text), size=12, fill=TEXT)
        y += 16
    y += 16
    return card.image.crop((0, 0, px(EMBED_WIDTH), px(y)))


def _icon_colour(url: str) -> str:
    match = AVATAR_URL.search(url)
    return AVATAR_COLOURS[int(match.group(1)) % len(AVATAR_COLOURS)] if match else SPINE


def _field_rows(fields: Sequence[Json]) -> list[list[Json]]:
    """Inline fields sit up to three to a row; any other field has a row of its own."""
    rows: list[list[Json]] = []
    for field in fields:
        if field.get("inline") and rows and rows[-1][-1].get("inline") and len(rows[-1]) < 3:
            rows[-1].append(field)
        else:
            rows.append([field])
    return rows


def _draw_fields(card: Canvas, fields: Sequence[Json], left: float, y: float) -> float:
    for number, row in enumerate(_field_rows(fields)):
        top = y + (8 if number else 0)
        width = (EMBED_INNER - 8 * (len(row) - 1)) / len(row)
        bottom = top
        for column, field in enumerate(row):
            x = left + column * (width + 8)
            below = card.paragraph(
                x,
                top,
                str(field.get("name") or ""),
                width,
                size=14,
                line=18,
                fill=HEADER,
                bold=True,
            )
            below = card.paragraph(
                x, below + 2, str(field.get("value") or ""), width, size=14, line=18
            )
            bottom = max(bottom, below)
        y = bottom
    return y


def _gallery(pictures: list[Image.Image | None]) -> Image.Image:
    """One image fits in 400×400; two to four tile like Discord's mosaic, cropped to fill."""
    first = next((p for p in pictures if p is not None), None)
    if len(pictures) == 1:
        w, h = first.size if first else (IMAGE_MAX, IMAGE_MAX * 3 // 4)
        scale = min(IMAGE_MAX / w, IMAGE_MAX / h, 1.0)
        return _tile(first, round(w * scale), round(h * scale))
    ratio = min(max(first.height / first.width, 0.5), 1.0) if first else 0.75
    cell_w = (IMAGE_MAX - GAP) / 2
    cell_h: float = round(cell_w * ratio)
    if len(pictures) == 3:
        slots: list[tuple[float, float, float, float]] = [
            (0, 0, cell_w, 2 * cell_h + GAP),
            (cell_w + GAP, 0, cell_w, cell_h),
        ]
        slots.append((cell_w + GAP, cell_h + GAP, cell_w, cell_h))
    else:
        slots = [
            ((i % 2) * (cell_w + GAP), (i // 2) * (cell_h + GAP), cell_w, cell_h)
            for i in range(len(pictures))
        ]
    rows = 2 if len(pictures) >= 3 else 1
    sheet = Image.new(
        "RGB", (px(IMAGE_MAX), px(rows * cell_h + (rows - 1) * GAP)), EMBED_BACKGROUND
    )
    for picture, (left, top, width, height) in zip(pictures, slots, strict=False):
        tile = _tile(picture, width, height)
        mask = Image.new("L", tile.size, 0)
        ImageDraw.Draw(mask).rounded_rectangle((0, 0, *tile.size), radius=px(3), fill=255)
        sheet.paste(tile, (px(left), px(top)), mask)
    return sheet


def _tile(picture: Image.Image | None, width: float, height: float) -> Image.Image:
    size = (px(width), px(height))
    if picture is None:  # the file is missing: show where it would be
        return Image.new("RGB", size, SPINE)
    return ImageOps.fit(picture, size, Image.Resampling.LANCZOS)


def _draw_components(canvas: Canvas, components: Sequence[Json], y: float) -> float:
    """A row of buttons (select menus as a plain box), wrapping if the column is too narrow."""
    x = float(GUTTER)
    for component in components:
        if component.get("type") == 3:
            placeholder = printable(str(component.get("placeholder") or "Make a selection"))
            canvas.rect(GUTTER, y, GUTTER + EMBED_INNER, y + 40, CODE_BACKGROUND, 4)
            canvas.text(GUTTER + 12, y + 20, placeholder, size=14, fill=MUTED)
            y += 48
            continue
        if component.get("type") != 2:
            continue
        label = printable(str(component.get("label") or ""))
        emoji = _emoji(component)
        inner = measure(label, 14) + (measure(emoji, 16) + (4 if label else 0) if emoji else 0)
        width = max(60.0, inner + 32)
        if x > GUTTER and x + width > WIDTH - 16:
            x, y = float(GUTTER), y + BUTTON_HEIGHT + 8
        fill = BUTTON_COLOURS.get(int(component.get("style") or 2), BUTTON_COLOURS[2])
        ink = "#FFFFFF"
        if component.get("disabled"):
            fill, ink = _mix(fill, BACKGROUND, 0.5), _mix(ink, BACKGROUND, 0.5)
        canvas.rect(x, y, x + width, y + BUTTON_HEIGHT, fill, 8)
        cursor = x + (width - inner) / 2
        if emoji:
            cursor += canvas.text(cursor, y + 16, emoji, size=16, fill=ink) + 4
        canvas.text(cursor, y + 16, label, size=14, fill=ink, bold=True)
        x += width + 8
    return y + BUTTON_HEIGHT


def _draw_ephemeral_note(canvas: Canvas, y: float) -> float:
    x = float(GUTTER)
    x += canvas.text(x, y + 8, "Only you can see this · ", size=12, fill=MUTED)
    canvas.text(x, y + 8, "Dismiss message", size=12, fill=LINK)
    return y + 16
