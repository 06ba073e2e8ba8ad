"""Discord's error responses, and the errors the emulator raises at the test itself.

Two kinds of failure live here:

* :class:`ApiError` is what the *bot* gets back: an HTTP status plus Discord's JSON
  error code and message (``{"code": 10062, "message": "Unknown interaction"}``), with
  the nested ``errors`` tree for 50035 Invalid Form Body.
* :class:`ClientRejected` is raised in the *test* when it asks a member to do
  something the Discord client itself would never send (an unknown option, a value
  outside ``min_value``...), because the bot could never see such an interaction.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


class ClientRejected(Exception):
    """The Discord client would refuse this user action, so no interaction is sent."""


class ApiError(Exception):
    """An HTTP error response exactly as Discord shapes it."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: JSON | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> JSON:
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


class FormErrors:
    """Collects field errors and renders Discord's nested ``errors`` object.

    Paths are tuples such as ``(0, "options", 1, "description")``; list indices
    become string keys, as Discord writes them.
    """

    def __init__(self) -> None:
        self._errors: list[tuple[tuple[str | int, ...], str, str]] = []

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        self._errors.append((path, code, message))

    def __bool__(self) -> bool:
        return bool(self._errors)

    def __len__(self) -> int:
        return len(self._errors)

    def to_dict(self) -> JSON:
        tree: JSON = {}
        for path, code, message in self._errors:
            node = tree
            for part in path:
                node = node.setdefault(str(part), {})
            node.setdefault("_errors", []).append({"code": code, "message": message})
        return tree

    def raise_if_any(self) -> None:
        if self._errors:
            raise invalid_form_body(self)


def invalid_form_body(errors: FormErrors) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body", errors=errors.to_dict())


def unauthorized() -> ApiError:
    return ApiError(401, 0, "401: Unauthorized")


def route_not_found() -> ApiError:
    return ApiError(404, 0, "404: Not Found")


def method_not_allowed() -> ApiError:
    return ApiError(405, 0, "405: Method Not Allowed")


def unknown_application() -> ApiError:
    return ApiError(404, 10002, "Unknown Application")


def unknown_channel() -> ApiError:
    return ApiError(404, 10003, "Unknown Channel")


def unknown_guild() -> ApiError:
    return ApiError(404, 10004, "Unknown Guild")


def unknown_member() -> ApiError:
    return ApiError(404, 10007, "Unknown Member")


def unknown_message() -> ApiError:
    return ApiError(404, 10008, "Unknown Message")


def unknown_user() -> ApiError:
    return ApiError(404, 10013, "Unknown User")


def unknown_webhook() -> ApiError:
    return ApiError(404, 10015, "Unknown Webhook")


def unknown_command() -> ApiError:
    return ApiError(404, 10063, "Unknown application command")


def unknown_interaction() -> ApiError:
    return ApiError(404, 10062, "Unknown interaction")


def entity_too_large() -> ApiError:
    return ApiError(413, 40005, "Request entity too large")


def already_acknowledged() -> ApiError:
    return ApiError(400, 40060, "Interaction has already been acknowledged.")


def missing_access() -> ApiError:
    return ApiError(403, 50001, "Missing Access")


def cannot_edit_others_message() -> ApiError:
    return ApiError(403, 50005, "Cannot edit a message authored by another user")


def empty_message() -> ApiError:
    return ApiError(400, 50006, "Cannot send an empty message")


def missing_permissions() -> ApiError:
    return ApiError(403, 50013, "Missing Permissions")


def invalid_webhook_token() -> ApiError:
    return ApiError(401, 50027, "Invalid Webhook Token")


def daily_command_creates_reached() -> ApiError:
    return ApiError(
        400, 30034, "Max number of daily application command creates has been reached (200)"
    )
