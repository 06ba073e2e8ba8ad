"""Application command definitions: Discord's validation of bulk overwrites, and storage.

``PUT /applications/{app}/commands`` (and the guild variant) replaces the whole
list. Discord rejects the entire request if any command breaks a rule, answering
50035 Invalid Form Body with an ``errors`` tree that names the field, e.g.
``{"0": {"options": {"1": {"description": {"_errors": [...]}}}}}``. Commands that
keep their name and type keep their id, as on Discord.

Localizations (``name_localizations``/``description_localizations`` on commands and
options, ``name_localizations`` on choices) are checked as Discord checks them: keys are
Discord's locale codes (``LOCALES``), values follow the rules of the field they localize
(a localized chat-input name is a lowercase name of 1-32 characters, a description 1-100
characters, a choice name 1-100), sibling options keep distinct names in every locale,
and the 8000-character budget is counted per locale with the localized text where there
is one. They are stored as sent, so tests read what members of each language see.
(The error codes for a bad locale key are modelled: Discord answers 50035 naming the key.)
"""

from __future__ import annotations

import copy
import re
from typing import Any

from tests.emulators.discord.clock import EmulatorClock
from tests.emulators.discord.errors import ApiError, FormErrors, daily_command_creates_reached
from tests.emulators.discord.signals import ChangeSignal
from tests.emulators.discord.snowflake import SnowflakeFactory

JSON = dict[str, Any]
Path = tuple[str | int, ...]

CHAT_INPUT, USER_COMMAND, MESSAGE_COMMAND = 1, 2, 3
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = range(3, 12)
OPTION_TYPES = set(range(1, 12))
OPTION_TYPE_NAMES = {
    1: "SUB_COMMAND",
    2: "SUB_COMMAND_GROUP",
    3: "STRING",
    4: "INTEGER",
    5: "BOOLEAN",
    6: "USER",
    7: "CHANNEL",
    8: "ROLE",
    9: "MENTIONABLE",
    10: "NUMBER",
    11: "ATTACHMENT",
}

MAX_SAFE_INTEGER = 2**53 - 1
MAX_OPTIONS = 25
MAX_CHOICES = 25
MAX_COMMAND_SIZE = 8000
MAX_COMMANDS_PER_TYPE = {CHAT_INPUT: 100, USER_COMMAND: 15, MESSAGE_COMMAND: 15}
MAX_DAILY_CREATES = 200
MAX_STRING_LENGTH = 6000

LOCALES = frozenset(
    {
        "ar", "bg", "cs", "da", "de", "el", "en-GB", "en-US", "es-419", "es-ES", "fi", "fr",
        "he", "hi", "hr", "hu", "id", "it", "ja", "ko", "lt", "nl", "no", "pl", "pt-BR", "ro",
        "ru", "sv-SE", "th", "tr", "uk", "vi", "zh-CN", "zh-TW",
    }
)  # fmt: skip
"""Discord's locale codes (its OpenAPI description's ``AvailableLocalesEnum``)."""

CHAT_INPUT_NAME = re.compile(r"^[-_\w]{1,32}$")
CONTEXT_MENU_NAME = re.compile(r"^[-_'\w]+(?: [-_'\w]+)*$")
"""User and message commands: capitals and single spaces allowed, none at either end."""


def _name_errors(
    errors: FormErrors, path: Path, name: Any, *, chat_input: bool, key: str | None = "name"
) -> None:
    """A command or option name (``key`` under ``path``; None: ``path`` is the field)."""
    where = path if key is None else (*path, key)
    if not isinstance(name, str):
        errors.add(where, "BASE_TYPE_REQUIRED", "This field is required")
        return
    if not 1 <= len(name) <= 32:
        errors.add(where, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
        return
    if chat_input and (not CHAT_INPUT_NAME.match(name) or name != name.lower()):
        errors.add(
            where,
            "APPLICATION_COMMAND_INVALID_NAME",
            f"Command name is invalid: {name!r} (lowercase letters, digits, - and _ only)",
        )
    elif not chat_input and not CONTEXT_MENU_NAME.match(name):
        errors.add(
            where,
            "APPLICATION_COMMAND_INVALID_NAME",
            f"Command name is invalid: {name!r} (letters, digits, -, _, ' and single spaces)",
        )


def _description_errors(errors: FormErrors, path: Path, description: Any) -> None:
    if not isinstance(description, str) or not 1 <= len(description) <= 100:
        errors.add(
            (*path, "description"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
        )


def _localization_map(errors: FormErrors, path: Path, value: Any) -> dict[str, Any]:
    """The ``*_localizations`` object at ``path`` (null and absent are empty), keys checked."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return {}
    for key in value:
        if key not in LOCALES:
            errors.add(
                (*path, key),
                "BASE_TYPE_CHOICES",
                f"Value must be one of {sorted(LOCALES)}.",
            )
    return {k: v for k, v in value.items() if k in LOCALES}


def _localized_names(
    errors: FormErrors, path: Path, node: JSON, *, chat_input: bool
) -> dict[str, Any]:
    """Check ``node["name_localizations"]``: each value obeys the name's own rules."""
    field = (*path, "name_localizations")
    names = _localization_map(errors, field, node.get("name_localizations"))
    for locale, name in names.items():
        _name_errors(errors, (*field, locale), name, chat_input=chat_input, key=None)
    return names


def _localized_descriptions(errors: FormErrors, path: Path, node: JSON) -> dict[str, Any]:
    field = (*path, "description_localizations")
    texts = _localization_map(errors, field, node.get("description_localizations"))
    for locale, text in texts.items():
        if not isinstance(text, str) or not 1 <= len(text) <= 100:
            errors.add(
                (*field, locale), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
    return texts


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _validate_value_option(option: JSON, path: Path, errors: FormErrors) -> None:
    kind = option.get("type")
    choices = option.get("choices")
    if choices is not None:
        if kind not in (STRING, INTEGER, NUMBER):
            errors.add(
                (*path, "choices"),
                "APPLICATION_COMMAND_OPTION_CHOICES_NOT_ALLOWED",
                "Choices are not allowed for this option type",
            )
        elif not isinstance(choices, list):
            errors.add((*path, "choices"), "BASE_TYPE_ARRAY", "Must be an array.")
        else:
            if len(choices) > MAX_CHOICES:
                errors.add(
                    (*path, "choices"),
                    "BASE_TYPE_MAX_LENGTH",
                    f"Must be {MAX_CHOICES} or fewer in length.",
                )
            for k, choice in enumerate(choices):
                cpath = (*path, "choices", k)
                cname = choice.get("name") if isinstance(choice, dict) else None
                if not isinstance(cname, str) or not 1 <= len(cname) <= 100:
                    errors.add(
                        (*cpath, "name"),
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 100 in length.",
                    )
                if isinstance(choice, dict):
                    lpath = (*cpath, "name_localizations")
                    names = _localization_map(errors, lpath, choice.get("name_localizations"))
                    for locale, lname in names.items():
                        if not isinstance(lname, str) or not 1 <= len(lname) <= 100:
                            errors.add(
                                (*lpath, locale),
                                "BASE_TYPE_BAD_LENGTH",
                                "Must be between 1 and 100 in length.",
                            )
                value: Any = choice.get("value") if isinstance(choice, dict) else None
                if kind == STRING:
                    if not isinstance(value, str):
                        errors.add((*cpath, "value"), "BASE_TYPE_STRING", "Must be a string.")
                    elif not 1 <= len(value) <= 100:
                        errors.add(
                            (*cpath, "value"),
                            "BASE_TYPE_BAD_LENGTH",
                            "Must be between 1 and 100 in length.",
                        )
                elif kind == INTEGER:
                    if not _is_int(value):
                        errors.add(
                            (*cpath, "value"), "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.'
                        )
                    elif abs(value) > MAX_SAFE_INTEGER:
                        errors.add(
                            (*cpath, "value"),
                            "NUMBER_TYPE_MAX",
                            f"int value should be less than or equal to {MAX_SAFE_INTEGER}.",
                        )
                elif not _is_number(value):
                    errors.add(
                        (*cpath, "value"),
                        "NUMBER_TYPE_COERCE",
                        f'Value "{value}" is not a valid number.',
                    )
        if option.get("autocomplete"):
            errors.add(
                (*path, "autocomplete"),
                "APPLICATION_COMMAND_OPTION_CHOICES_AND_AUTOCOMPLETE",
                "Autocomplete cannot be set with choices",
            )
    if option.get("autocomplete") and kind not in (STRING, INTEGER, NUMBER):
        errors.add(
            (*path, "autocomplete"),
            "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID_TYPE",
            "Autocomplete is only allowed for STRING, INTEGER and NUMBER options",
        )
    for bound in ("min_value", "max_value"):
        value = option.get(bound)
        if value is None:
            continue
        if kind not in (INTEGER, NUMBER):
            errors.add(
                (*path, bound),
                "APPLICATION_COMMAND_OPTION_INVALID_FIELD",
                f"{bound} is only allowed for INTEGER and NUMBER options",
            )
        elif kind == INTEGER and not _is_int(value):
            errors.add((*path, bound), "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')
        elif not _is_number(value):
            errors.add(
                (*path, bound), "NUMBER_TYPE_COERCE", f'Value "{value}" is not a valid number.'
            )
        elif value > MAX_SAFE_INTEGER:
            errors.add(
                (*path, bound),
                "NUMBER_TYPE_MAX",
                f"int value should be less than or equal to {MAX_SAFE_INTEGER}.",
            )
        elif value < -MAX_SAFE_INTEGER:
            errors.add(
                (*path, bound),
                "NUMBER_TYPE_MIN",
                f"int value should be greater than or equal to {-MAX_SAFE_INTEGER}.",
            )
    low: Any = option.get("min_value")
    high: Any = option.get("max_value")
    if _is_number(low) and _is_number(high) and low > high:
        errors.add(
            (*path, "min_value"),
            "APPLICATION_COMMAND_OPTION_MIN_MAX_INVALID",
            "min_value must be less than or equal to max_value",
        )
    for bound, floor in (("min_length", 0), ("max_length", 1)):
        value = option.get(bound)
        if value is None:
            continue
        if kind != STRING:
            errors.add(
                (*path, bound),
                "APPLICATION_COMMAND_OPTION_INVALID_FIELD",
                f"{bound} is only allowed for STRING options",
            )
        elif not _is_int(value) or not floor <= value <= MAX_STRING_LENGTH:
            errors.add(
                (*path, bound),
                "NUMBER_TYPE_MAX",
                f"int value should be between {floor} and {MAX_STRING_LENGTH}.",
            )
    if option.get("channel_types") is not None and kind != CHANNEL:
        errors.add(
            (*path, "channel_types"),
            "APPLICATION_COMMAND_OPTION_INVALID_FIELD",
            "channel_types is only allowed for CHANNEL options",
        )


def _validate_options(options: Any, path: Path, errors: FormErrors, *, depth: int) -> None:
    """depth 0: command's options; 1: inside a subcommand group; 2: inside a subcommand."""
    if options is None:
        return
    if not isinstance(options, list):
        errors.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if len(options) > MAX_OPTIONS:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_OPTIONS} or fewer in length.")
    kinds = [o.get("type") if isinstance(o, dict) else None for o in options]
    has_sub = any(k in (SUB_COMMAND, SUB_COMMAND_GROUP) for k in kinds)
    if has_sub and not all(k in (SUB_COMMAND, SUB_COMMAND_GROUP) for k in kinds):
        errors.add(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-commands and sub-command groups cannot be mixed with other option types",
        )
    seen: set[str] = set()
    seen_localized: set[tuple[str, str]] = set()
    optional_seen = False
    for i, option in enumerate(options):
        opath = (*path, i)
        if not isinstance(option, dict):
            errors.add(opath, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        kind = option.get("type")
        if kind not in OPTION_TYPES:
            errors.add(
                (*opath, "type"),
                "BASE_TYPE_CHOICES",
                f"Value must be one of {sorted(OPTION_TYPES)}.",
            )
            continue
        _name_errors(errors, opath, option.get("name"), chat_input=True)
        _description_errors(errors, opath, option.get("description"))
        _localized_descriptions(errors, opath, option)
        name = option.get("name")
        if isinstance(name, str):
            if name in seen:
                errors.add(
                    (*opath, "name"),
                    "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS",
                    "Option names must be unique",
                )
            seen.add(name)
        for locale, localized in _localized_names(errors, opath, option, chat_input=True).items():
            if (locale, localized) in seen_localized:
                errors.add(
                    (*opath, "name_localizations", locale),
                    "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS",
                    "Option names must be unique",
                )
            seen_localized.add((locale, localized))
        if kind == SUB_COMMAND_GROUP:
            if depth != 0:
                errors.add(
                    (*opath, "type"),
                    "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                    "Sub-command groups can only be nested in a command",
                )
            _validate_options(option.get("options"), (*opath, "options"), errors, depth=1)
        elif kind == SUB_COMMAND:
            if depth > 1:
                errors.add(
                    (*opath, "type"),
                    "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                    "Sub-commands can only be nested in a command or sub-command group",
                )
            _validate_options(option.get("options"), (*opath, "options"), errors, depth=2)
        else:
            if depth == 1:
                errors.add(
                    (*opath, "type"),
                    "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                    "Sub-command groups can only contain sub-commands",
                )
            if option.get("options"):
                errors.add(
                    (*opath, "options"),
                    "APPLICATION_COMMAND_OPTION_INVALID_FIELD",
                    "Only sub-commands and groups have options",
                )
            _validate_value_option(option, opath, errors)
            if option.get("required"):
                if optional_seen:
                    errors.add(
                        (*opath, "required"),
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
            else:
                optional_seen = True


def _in(node: JSON, field: str, locale: str | None) -> str:
    """``node[field]`` as members of ``locale`` read it (None: the default text)."""
    localized = node.get(f"{field}_localizations") if locale is not None else None
    if isinstance(localized, dict) and isinstance(localized.get(locale), str):
        return str(localized[locale])
    return str(node.get(field) or "")


def _locales_used(node: JSON) -> set[str]:
    found: set[str] = set()
    for field in ("name_localizations", "description_localizations"):
        value = node.get(field)
        if isinstance(value, dict):
            found |= {k for k in value if isinstance(k, str)}
    for child in [*(node.get("choices") or []), *(node.get("options") or [])]:
        if isinstance(child, dict):
            found |= _locales_used(child)
    return found


def command_size(command: JSON) -> int:
    """Discord's 8000-character budget: names, descriptions and choice values, recursively,
    counted for each locale (with its localized texts) and the default; the largest counts."""

    def size(node: JSON, locale: str | None) -> int:
        total = len(_in(node, "name", locale)) + len(_in(node, "description", locale))
        for choice in node.get("choices") or []:
            if isinstance(choice, dict):
                total += len(_in(choice, "name", locale)) + len(str(choice.get("value") or ""))
        for child in node.get("options") or []:
            if isinstance(child, dict):
                total += size(child, locale)
        return total

    return max(size(command, locale) for locale in [None, *sorted(_locales_used(command))])


def validate_command_list(payload: Any) -> FormErrors:
    errors = FormErrors()
    if not isinstance(payload, list):
        errors.add((), "BASE_TYPE_ARRAY", "Must be an array.")
        return errors
    per_type: dict[int, int] = {}
    names: set[tuple[int, str]] = set()
    for i, command in enumerate(payload):
        path: Path = (i,)
        if not isinstance(command, dict):
            errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        kind = command.get("type", CHAT_INPUT)
        if kind not in MAX_COMMANDS_PER_TYPE:
            errors.add((*path, "type"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4}.")
            continue
        per_type[kind] = per_type.get(kind, 0) + 1
        name = command.get("name")
        _name_errors(errors, path, name, chat_input=kind == CHAT_INPUT)
        if isinstance(name, str):
            if (kind, name) in names:
                errors.add(
                    (*path, "name"),
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    f"Application command names must be unique: {name}",
                )
            names.add((kind, name))
        _localized_names(errors, path, command, chat_input=kind == CHAT_INPUT)
        if kind == CHAT_INPUT:
            _description_errors(errors, path, command.get("description"))
            _localized_descriptions(errors, path, command)
            _validate_options(command.get("options"), (*path, "options"), errors, depth=0)
        else:
            if command.get("description") or command.get("description_localizations"):
                errors.add(
                    (*path, "description"),
                    "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
                    "Context menu commands cannot have a description",
                )
            if command.get("options"):
                errors.add(
                    (*path, "options"),
                    "APPLICATION_COMMAND_CONTEXT_MENU_OPTIONS",
                    "Context menu commands cannot have options",
                )
        perms = command.get("default_member_permissions")
        if perms is not None:
            try:
                int(perms)
            except (TypeError, ValueError):
                errors.add(
                    (*path, "default_member_permissions"),
                    "NUMBER_TYPE_COERCE",
                    f'Value "{perms}" is not snowflake.',
                )
        for key, allowed in (("contexts", {0, 1, 2}), ("integration_types", {0, 1})):
            value = command.get(key)
            if value is not None and (not isinstance(value, list) or not set(value) <= allowed):
                errors.add(
                    (*path, key), "BASE_TYPE_CHOICES", f"Value must be one of {sorted(allowed)}."
                )
        if command_size(command) > MAX_COMMAND_SIZE:
            errors.add(
                path,
                "APPLICATION_COMMAND_TOO_LARGE",
                f"Command exceeds maximum size ({MAX_COMMAND_SIZE})",
            )
    for kind, count in per_type.items():
        limit = MAX_COMMANDS_PER_TYPE[kind]
        if count > limit:
            errors.add(
                (),
                "APPLICATION_COMMANDS_MAX_EXCEEDED",
                f"Maximum number of application commands of type {kind} reached ({limit})",
            )
    return errors


def _normalise_option(option: JSON) -> JSON:
    out = copy.deepcopy(option)
    if out.get("type") not in (SUB_COMMAND, SUB_COMMAND_GROUP):
        out.setdefault("required", False)
    else:
        out.pop("required", None)
    if "options" in out:
        out["options"] = [_normalise_option(o) for o in out["options"]]
    return out


class CommandRegistry:
    """The synced command lists, global and per guild, with a signal on every overwrite."""

    def __init__(
        self, clock: EmulatorClock, snowflakes: SnowflakeFactory, application_id: int
    ) -> None:
        self._clock = clock
        self._snowflakes = snowflakes
        self._application_id = application_id
        self._lists: dict[int | None, list[JSON]] = {}
        self.sync_counts: dict[int | None, int] = {}
        self._creates: dict[int | None, list[float]] = {}
        self.signal = ChangeSignal()

    def bulk_overwrite(self, guild_id: int | None, payload: Any) -> list[JSON]:
        validate_command_list(payload).raise_if_any()
        previous = {(c["type"], c["name"]): c for c in self._lists.get(guild_id, [])}
        new_names = [
            (c.get("type", CHAT_INPUT), c["name"])
            for c in payload
            if (c.get("type", CHAT_INPUT), c["name"]) not in previous
        ]
        self._count_creates(guild_id, len(new_names))
        stored: list[JSON] = []
        for command in payload:
            kind = command.get("type", CHAT_INPUT)
            old = previous.get((kind, command["name"]))
            stored.append(self._stored_form(command, guild_id, old))
        self._lists[guild_id] = stored
        self.sync_counts[guild_id] = self.sync_counts.get(guild_id, 0) + 1
        self.signal.notify()
        return copy.deepcopy(stored)

    def _count_creates(self, guild_id: int | None, count: int) -> None:
        now = self._clock.now()
        recent = [t for t in self._creates.get(guild_id, []) if now - t < 86400]
        if len(recent) + count > MAX_DAILY_CREATES:
            raise daily_command_creates_reached()
        self._creates[guild_id] = recent + [now] * count

    def _stored_form(self, command: JSON, guild_id: int | None, old: JSON | None) -> JSON:
        kind = command.get("type", CHAT_INPUT)
        perms = command.get("default_member_permissions")
        stored: JSON = {
            "id": old["id"] if old else str(self._snowflakes.next()),
            "application_id": str(self._application_id),
            "version": str(self._snowflakes.next()),
            "default_member_permissions": None if perms is None else str(int(perms)),
            "type": kind,
            "name": command["name"],
            "name_localizations": command.get("name_localizations"),
            "description": command.get("description") or "",
            "description_localizations": command.get("description_localizations"),
            "dm_permission": command.get("dm_permission", True),
            "contexts": command.get("contexts"),
            "integration_types": command.get("integration_types") or [0],
            "nsfw": bool(command.get("nsfw", False)),
        }
        if guild_id is not None:
            stored["guild_id"] = str(guild_id)
        if command.get("options"):
            stored["options"] = [_normalise_option(o) for o in command["options"]]
        return stored

    def definitions(self, guild_id: int | None) -> list[JSON]:
        return copy.deepcopy(self._lists.get(guild_id, []))

    def get(self, guild_id: int | None, command_id: int) -> JSON:
        for command in self._lists.get(guild_id, []):
            if int(command["id"]) == command_id:
                return copy.deepcopy(command)
        raise ApiError(404, 10063, "Unknown application command")

    def find(self, guild_id: int, name: str, kind: int = CHAT_INPUT) -> JSON | None:
        """What a member in ``guild_id`` would find when typing ``/name``: guild commands first."""
        for scope in (guild_id, None):
            for command in self._lists.get(scope, []):
                if command["name"] == name and command["type"] == kind:
                    return command
        return None

    def has_synced(self, guild_id: int | None) -> bool:
        return self.sync_counts.get(guild_id, 0) > 0

    async def wait_until_synced(self, guild_id: int | None, *, timeout: float) -> list[JSON]:
        scope = "global" if guild_id is None else f"guild {guild_id}"
        return await self.signal.wait_for(
            lambda: self.definitions(guild_id) if self.has_synced(guild_id) else None,
            timeout=timeout,
            describe=lambda: (
                f"the bot never bulk-overwrote the {scope} commands "
                f"(synced scopes: {list(self.sync_counts)})"
            ),
        )
