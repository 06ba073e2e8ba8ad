"""Discord's limits on message bodies, components and modals.

Each ``validate_*`` function adds field errors to a :class:`FormErrors` under a path
prefix (``("data",)`` for interaction callbacks, ``()`` for channel messages), so
the bot gets the same 50035 Invalid Form Body that Discord would send, naming the
exact field that broke the rule.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from tests.emulators.discord.errors import FormErrors

JSON = dict[str, Any]
Path = tuple[str | int, ...]

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_ATTACHMENTS = 10
MAX_EMBED_TOTAL = 6000
EMBED_LIMITS = {"title": 256, "description": 4096}
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_AUTHOR_NAME = 256
MAX_ACTION_ROWS = 5
MAX_ROW_BUTTONS = 5
MAX_BUTTON_LABEL = 80
MAX_CUSTOM_ID = 100
MAX_V2_COMPONENTS = 40
MAX_MODAL_TITLE = 45
MAX_MODAL_COMPONENTS = 5
MAX_TEXT_INPUT = 4000

ACTION_ROW = 1
BUTTON = 2
STRING_SELECT = 3
TEXT_INPUT = 4
AUTO_SELECTS = {5, 6, 7, 8}
SECTION = 9
TEXT_DISPLAY = 10
THUMBNAIL = 11
MEDIA_GALLERY = 12
FILE = 13
SEPARATOR = 14
CONTAINER = 17
LABEL = 18

LINK_STYLE = 5
PREMIUM_STYLE = 6

IS_COMPONENTS_V2 = 1 << 15


def _max_len(errors: FormErrors, path: Path, value: Any, limit: int) -> None:
    if isinstance(value, str | list) and len(value) > limit:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _bad_length(errors: FormErrors, path: Path, value: Any, low: int, high: int) -> None:
    if not isinstance(value, str) or not low <= len(value) <= high:
        errors.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


def _required(errors: FormErrors, path: Path) -> None:
    errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")


def validate_message(
    payload: JSON,
    errors: FormErrors,
    *,
    prefix: Path = (),
    file_count: int = 0,
) -> None:
    """Content, embeds, attachments and components of a message create/edit body."""
    flags = payload.get("flags") or 0
    content = payload.get("content")
    if content is not None:
        if not isinstance(content, str):
            errors.add((*prefix, "content"), "BASE_TYPE_STRING", "Must be a string.")
        else:
            _max_len(errors, (*prefix, "content"), content, MAX_CONTENT)
    embeds = payload.get("embeds")
    if embeds:
        validate_embeds(embeds, errors, prefix=(*prefix, "embeds"))
    attachments = payload.get("attachments")
    if isinstance(attachments, list):
        _max_len(errors, (*prefix, "attachments"), attachments, MAX_ATTACHMENTS)
    if file_count > MAX_ATTACHMENTS:
        errors.add(
            (*prefix, "files"),
            "BASE_TYPE_MAX_LENGTH",
            f"Must be {MAX_ATTACHMENTS} or fewer in length.",
        )
    components = payload.get("components")
    if components:
        if flags & IS_COMPONENTS_V2:
            if content:
                errors.add(
                    (*prefix, "content"),
                    "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                    "The 'content' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
                )
            if embeds:
                errors.add(
                    (*prefix, "embeds"),
                    "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                    "The 'embeds' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
                )
            validate_v2_components(components, errors, prefix=(*prefix, "components"))
        else:
            validate_action_rows(components, errors, prefix=(*prefix, "components"))


def _check_url(errors: FormErrors, path: Path, url: Any) -> None:
    if url is None:
        return
    parsed = urlparse(str(url))
    if parsed.scheme not in ("http", "https", "attachment") or not (parsed.netloc or parsed.path):
        errors.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")


def validate_embeds(embeds: Any, errors: FormErrors, *, prefix: Path) -> None:
    if not isinstance(embeds, list):
        errors.add(prefix, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    _max_len(errors, prefix, embeds, MAX_EMBEDS)
    total = 0
    for i, embed in enumerate(embeds):
        path = (*prefix, i)
        if not isinstance(embed, dict):
            errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        for key, limit in EMBED_LIMITS.items():
            value = embed.get(key)
            if value is not None:
                _max_len(errors, (*path, key), value, limit)
                total += len(str(value))
        color = embed.get("color")
        if color is not None and not (isinstance(color, int) and 0 <= color <= 0xFFFFFF):
            errors.add(
                (*path, "color"),
                "NUMBER_TYPE_MAX",
                "int value should be less than or equal to 16777215.",
            )
        _check_url(errors, (*path, "url"), embed.get("url"))
        for media in ("image", "thumbnail"):
            if isinstance(embed.get(media), dict):
                _check_url(errors, (*path, media, "url"), embed[media].get("url"))
        fields = embed.get("fields") or []
        _max_len(errors, (*path, "fields"), fields, MAX_FIELDS)
        for j, f in enumerate(fields):
            fpath = (*path, "fields", j)
            name, value = f.get("name"), f.get("value")
            if not name:
                _required(errors, (*fpath, "name"))
            else:
                _max_len(errors, (*fpath, "name"), name, MAX_FIELD_NAME)
                total += len(str(name))
            if not value:
                _required(errors, (*fpath, "value"))
            else:
                _max_len(errors, (*fpath, "value"), value, MAX_FIELD_VALUE)
                total += len(str(value))
        footer = embed.get("footer")
        if isinstance(footer, dict):
            text = footer.get("text")
            if not text:
                _required(errors, (*path, "footer", "text"))
            else:
                _max_len(errors, (*path, "footer", "text"), text, MAX_FOOTER)
                total += len(str(text))
        author = embed.get("author")
        if isinstance(author, dict):
            aname = author.get("name")
            if not aname:
                _required(errors, (*path, "author", "name"))
            else:
                _max_len(errors, (*path, "author", "name"), aname, MAX_AUTHOR_NAME)
                total += len(str(aname))
    if total > MAX_EMBED_TOTAL:
        errors.add(
            prefix,
            "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}",
        )


class _CustomIds:
    """custom_id must be unique within one message or modal."""

    def __init__(self, errors: FormErrors) -> None:
        self.errors = errors
        self.seen: set[str] = set()

    def check(self, path: Path, component: JSON, *, required: bool) -> None:
        custom_id = component.get("custom_id")
        if custom_id is None:
            if required:
                _required(self.errors, (*path, "custom_id"))
            return
        _bad_length(self.errors, (*path, "custom_id"), custom_id, 1, MAX_CUSTOM_ID)
        if custom_id in self.seen:
            self.errors.add(
                (*path, "custom_id"),
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                "Component custom id cannot be duplicated",
            )
        self.seen.add(str(custom_id))


def _validate_button(c: JSON, path: Path, errors: FormErrors, ids: _CustomIds) -> None:
    style = c.get("style")
    if style not in (1, 2, 3, 4, 5, 6):
        errors.add(
            (*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}."
        )
        return
    label = c.get("label")
    if label is not None:
        _max_len(errors, (*path, "label"), label, MAX_BUTTON_LABEL)
    if style == LINK_STYLE:
        if not c.get("url"):
            errors.add((*path, "url"), "BUTTON_COMPONENT_URL_REQUIRED", "A url is required")
        else:
            _check_url(errors, (*path, "url"), c["url"])
        if c.get("custom_id") is not None:
            errors.add(
                (*path, "custom_id"),
                "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                "A custom id cannot be specified for this button style",
            )
    elif style == PREMIUM_STYLE:
        if not c.get("sku_id"):
            errors.add(
                (*path, "sku_id"), "BUTTON_COMPONENT_SKU_ID_REQUIRED", "A sku_id is required"
            )
    else:
        if c.get("url") is not None:
            errors.add(
                (*path, "url"),
                "BUTTON_COMPONENT_URL_NOT_ALLOWED",
                "A url cannot be specified for this button style",
            )
        ids.check(path, c, required=True)
    if style != PREMIUM_STYLE and not label and not c.get("emoji"):
        errors.add(
            (*path, "label"), "BUTTON_COMPONENT_LABEL_REQUIRED", "A label or emoji is required"
        )


def _validate_select(c: JSON, path: Path, errors: FormErrors, ids: _CustomIds) -> None:
    ids.check(path, c, required=True)
    placeholder = c.get("placeholder")
    if placeholder is not None:
        _max_len(errors, (*path, "placeholder"), placeholder, 150)
    min_values, max_values = c.get("min_values", 1), c.get("max_values", 1)
    if not (isinstance(min_values, int) and 0 <= min_values <= 25):
        errors.add(
            (*path, "min_values"),
            "NUMBER_TYPE_MAX",
            "int value should be less than or equal to 25.",
        )
    if not (isinstance(max_values, int) and 1 <= max_values <= 25):
        errors.add(
            (*path, "max_values"),
            "NUMBER_TYPE_MAX",
            "int value should be less than or equal to 25.",
        )
    if c.get("type") == STRING_SELECT:
        options = c.get("options")
        if not options:
            _required(errors, (*path, "options"))
            return
        _max_len(errors, (*path, "options"), options, 25)
        values: set[str] = set()
        for k, opt in enumerate(options):
            opath = (*path, "options", k)
            _bad_length(errors, (*opath, "label"), opt.get("label"), 1, 100)
            _bad_length(errors, (*opath, "value"), opt.get("value"), 1, 100)
            if opt.get("value") in values:
                errors.add(
                    (*opath, "value"),
                    "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED",
                    "Option value is duplicated",
                )
            values.add(str(opt.get("value")))
        if isinstance(max_values, int) and max_values > len(options):
            errors.add(
                (*path, "max_values"),
                "NUMBER_TYPE_MAX",
                f"int value should be less than or equal to {len(options)}.",
            )


def _validate_row(row: Any, path: Path, errors: FormErrors, ids: _CustomIds) -> None:
    if not isinstance(row, dict) or row.get("type") != ACTION_ROW:
        errors.add(
            (*path, "type"), "UNION_TYPE_CHOICES", 'Value of field "type" must be one of (1,).'
        )
        return
    children = row.get("components")
    if not children:
        errors.add(
            (*path, "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
        )
        return
    _max_len(errors, (*path, "components"), children, MAX_ROW_BUTTONS)
    kinds = {c.get("type") for c in children if isinstance(c, dict)}
    if kinds - {BUTTON} and len(children) > 1:
        errors.add(
            (*path, "components"),
            "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
            "The specified component exceeds the maximum width",
        )
    for j, c in enumerate(children):
        cpath = (*path, "components", j)
        kind = c.get("type") if isinstance(c, dict) else None
        if kind == BUTTON:
            _validate_button(c, cpath, errors, ids)
        elif kind == STRING_SELECT or kind in AUTO_SELECTS:
            _validate_select(c, cpath, errors, ids)
        else:
            errors.add(
                (*cpath, "type"),
                "UNION_TYPE_CHOICES",
                'Value of field "type" must be one of (2, 3, 5, 6, 7, 8).',
            )


def validate_action_rows(components: Any, errors: FormErrors, *, prefix: Path) -> None:
    """Classic layout: up to 5 action rows of up to 5 buttons, or one select each."""
    if not isinstance(components, list):
        errors.add(prefix, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    _max_len(errors, prefix, components, MAX_ACTION_ROWS)
    ids = _CustomIds(errors)
    for i, row in enumerate(components):
        _validate_row(row, (*prefix, i), errors, ids)


def validate_v2_components(components: Any, errors: FormErrors, *, prefix: Path) -> None:
    """Components V2 layout: a tree of at most 40 components with unique custom ids."""
    if not isinstance(components, list):
        errors.add(prefix, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    ids = _CustomIds(errors)
    count = 0

    def walk(items: list[Any], path: Path) -> None:
        nonlocal count
        for i, c in enumerate(items):
            count += 1
            cpath = (*path, i)
            kind = c.get("type") if isinstance(c, dict) else None
            if kind == ACTION_ROW:
                _validate_row(c, cpath, errors, ids)
                count += len(c.get("components") or [])
            elif kind in (SECTION, CONTAINER):
                walk(c.get("components") or [], (*cpath, "components"))
                accessory = c.get("accessory")
                if isinstance(accessory, dict):
                    count += 1
                    if accessory.get("type") == BUTTON:
                        _validate_button(accessory, (*cpath, "accessory"), errors, ids)
            elif kind == TEXT_DISPLAY:
                _bad_length(errors, (*cpath, "content"), c.get("content"), 1, MAX_TEXT_INPUT)
            elif kind in (THUMBNAIL, MEDIA_GALLERY, FILE, SEPARATOR):
                pass
            else:
                errors.add((*cpath, "type"), "UNION_TYPE_CHOICES", "Invalid component type.")

    walk(components, prefix)
    if count > MAX_V2_COMPONENTS:
        errors.add(
            prefix, "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_V2_COMPONENTS} or fewer in length."
        )


def _validate_text_input(
    c: JSON, path: Path, errors: FormErrors, ids: _CustomIds, *, in_label: bool
) -> None:
    ids.check(path, c, required=True)
    if c.get("style") not in (1, 2):
        errors.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2}.")
    if not in_label:
        _bad_length(errors, (*path, "label"), c.get("label"), 1, 45)
    min_length, max_length = c.get("min_length"), c.get("max_length")
    if min_length is not None and not (
        isinstance(min_length, int) and 0 <= min_length <= MAX_TEXT_INPUT
    ):
        errors.add(
            (*path, "min_length"),
            "NUMBER_TYPE_MAX",
            "int value should be less than or equal to 4000.",
        )
    if max_length is not None and not (
        isinstance(max_length, int) and 1 <= max_length <= MAX_TEXT_INPUT
    ):
        errors.add(
            (*path, "max_length"),
            "NUMBER_TYPE_MAX",
            "int value should be less than or equal to 4000.",
        )
    if c.get("value") is not None:
        _max_len(errors, (*path, "value"), c["value"], MAX_TEXT_INPUT)
    if c.get("placeholder") is not None:
        _max_len(errors, (*path, "placeholder"), c["placeholder"], 100)


def validate_modal(data: Any, errors: FormErrors, *, prefix: Path = ("data",)) -> None:
    """A modal (callback type 9): title 1–45, 1–5 components, text inputs with unique ids."""
    if not isinstance(data, dict):
        _required(errors, prefix)
        return
    ids = _CustomIds(errors)
    _bad_length(errors, (*prefix, "custom_id"), data.get("custom_id"), 1, MAX_CUSTOM_ID)
    _bad_length(errors, (*prefix, "title"), data.get("title"), 1, MAX_MODAL_TITLE)
    components = data.get("components")
    if not isinstance(components, list) or not 1 <= len(components) <= MAX_MODAL_COMPONENTS:
        errors.add(
            (*prefix, "components"),
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between 1 and {MAX_MODAL_COMPONENTS} in length.",
        )
        return
    for i, c in enumerate(components):
        cpath = (*prefix, "components", i)
        kind = c.get("type") if isinstance(c, dict) else None
        if kind == ACTION_ROW:
            inner = c.get("components") or []
            if len(inner) != 1 or inner[0].get("type") != TEXT_INPUT:
                errors.add(
                    (*cpath, "components"),
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 1 in length.",
                )
                continue
            _validate_text_input(inner[0], (*cpath, "components", 0), errors, ids, in_label=False)
        elif kind == LABEL:
            _bad_length(errors, (*cpath, "label"), c.get("label"), 1, 45)
            inner_c = c.get("component")
            if not isinstance(inner_c, dict):
                _required(errors, (*cpath, "component"))
            elif inner_c.get("type") == TEXT_INPUT:
                _validate_text_input(inner_c, (*cpath, "component"), errors, ids, in_label=True)
            elif inner_c.get("type") == STRING_SELECT or inner_c.get("type") in AUTO_SELECTS:
                _validate_select(inner_c, (*cpath, "component"), errors, ids)
            else:
                ids.check((*cpath, "component"), inner_c, required=False)
        elif kind == TEXT_DISPLAY:
            _bad_length(errors, (*cpath, "content"), c.get("content"), 1, MAX_TEXT_INPUT)
        else:
            errors.add(
                (*cpath, "type"),
                "UNION_TYPE_CHOICES",
                'Value of field "type" must be one of (1, 10, 18).',
            )


MAX_AUTOCOMPLETE_CHOICES = 25


def _focused_option(options: list[JSON]) -> JSON | None:
    for option in options:
        if option.get("focused"):
            return option
        found = _focused_option(option.get("options") or [])
        if found is not None:
            return found
    return None


def validate_autocomplete_choices(data: Any, interaction: JSON, errors: FormErrors) -> list[JSON]:
    """An autocomplete answer (callback type 8): at most 25 choices, each a name of 1–100
    characters and a value of the focused option's type (text at most 100 characters)."""
    prefix: Path = ("data", "choices")
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list):
        errors.add(prefix, "BASE_TYPE_REQUIRED", "This field is required")
        return []
    if len(choices) > MAX_AUTOCOMPLETE_CHOICES:
        errors.add(
            prefix,
            "BASE_TYPE_MAX_LENGTH",
            f"Must be {MAX_AUTOCOMPLETE_CHOICES} or fewer in length.",
        )
    focused = _focused_option((interaction.get("data") or {}).get("options") or [])
    kind = focused.get("type") if focused else None
    for i, choice in enumerate(choices):
        path = (*prefix, i)
        if not isinstance(choice, dict):
            errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        _bad_length(errors, (*path, "name"), choice.get("name"), 1, 100)
        value = choice.get("value")
        if kind == 3:
            _bad_length(errors, (*path, "value"), value, 1, 100)
        elif kind == 4 and (not isinstance(value, int) or isinstance(value, bool)):
            errors.add((*path, "value"), "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')
        elif kind == 10 and (not isinstance(value, int | float) or isinstance(value, bool)):
            errors.add(
                (*path, "value"), "NUMBER_TYPE_COERCE", f'Value "{value}" is not a valid number.'
            )
    return [dict(c) for c in choices if isinstance(c, dict)]
