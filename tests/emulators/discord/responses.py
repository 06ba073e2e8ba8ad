"""Interaction callbacks and the interaction webhook, with Discord's timing rules.

* The first callback must arrive within 3 s of the interaction being sent (emulator
  clock), else 404 10062 Unknown interaction; a second one is 400 40060.
* The token works on ``/webhooks/{app}/{token}`` for 15 minutes, then 401 50027.
* ``@original`` before any initial response is 404 10015 Unknown Webhook: Discord
  creates the interaction's webhook message only when the bot acknowledges.
* The first followup after a deferred (type 5) response does not create a new
  message: Discord treats it as resolving the "thinking..." message and edits it,
  keeping the deferral's ephemeral flag (documented "backwards compatibility").
"""

from __future__ import annotations

from typing import Any

from tests.emulators.discord.clock import EmulatorClock
from tests.emulators.discord.errors import (
    ApiError,
    FormErrors,
    already_acknowledged,
    invalid_form_body,
    invalid_webhook_token,
    unknown_interaction,
    unknown_message,
    unknown_webhook,
)
from tests.emulators.discord.interactions import (
    ALLOWED_RESPONSES,
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE_MESSAGE,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    UPDATE_MESSAGE,
    CallbackAttempt,
    InteractionRecord,
    InteractionRegistry,
    ModalRecord,
)
from tests.emulators.discord.messages import (
    EPHEMERAL,
    MESSAGE_CHAT_INPUT_COMMAND,
    MESSAGE_DEFAULT,
    Message,
)
from tests.emulators.discord.messaging import WEBHOOK_CREATE_FLAGS, MessageService
from tests.emulators.discord.state import World
from tests.emulators.discord.uploads import RequestBody
from tests.emulators.discord.validation import validate_autocomplete_choices, validate_modal

JSON = dict[str, Any]


USER_INSTALL_FOLLOWUPS = 5
"""Follow-ups Discord allows per interaction authorised only by a user's own install."""


class InteractionResponder:
    def __init__(
        self,
        world: World,
        registry: InteractionRegistry,
        messages: MessageService,
        clock: EmulatorClock,
        *,
        token_lifetime: float = 15 * 60.0,
    ) -> None:
        self.world = world
        self.registry = registry
        self.messages = messages
        self.clock = clock
        self.token_lifetime = token_lifetime

    # -- POST /interactions/{id}/{token}/callback -------------------------------
    def callback(
        self, interaction_id: int, token: str, body: RequestBody, *, with_response: bool
    ) -> JSON | None:
        record = self.registry.by_id(interaction_id)
        if record is None or record.token != token:
            raise unknown_interaction()
        at = self.clock.now() - record.created_at
        response_type: Any = body.payload.get("type")
        try:
            if record.response_type is not None:
                raise already_acknowledged()
            if at > record.deadline:
                raise unknown_interaction()
            self._respond(record, response_type, body)
        except ApiError as error:
            record.callback_attempts.append(
                CallbackAttempt(response_type, at, error.status, error.code, error.message)
            )
            record.signal.notify()
            raise
        record.callback_attempts.append(
            CallbackAttempt(response_type, at, 200 if with_response else 204)
        )
        record.response_type = response_type
        record.ack_latency = at
        record.signal.notify()
        return self._callback_result(record, response_type) if with_response else None

    def _respond(self, record: InteractionRecord, response_type: Any, body: RequestBody) -> None:
        allowed = set(ALLOWED_RESPONSES.get(record.type, set()))
        if record.source_message is None:
            allowed -= {DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE}
        if response_type not in allowed:
            errors = FormErrors()
            errors.add(
                ("type",),
                "INTERACTION_RESPONSE_TYPE_INVALID",
                f"Interaction response type {response_type} is invalid "
                f"for interaction type {record.type}",
            )
            raise invalid_form_body(errors)
        data = body.payload.get("data") or {}
        if not isinstance(data, dict):
            data = {}
        if response_type == CHANNEL_MESSAGE:
            record.original = self._create(
                record, RequestBody(payload=data, files=body.files), prefix=("data",)
            )
        elif response_type == DEFERRED_CHANNEL_MESSAGE:
            flags = (data.get("flags") or 0) & EPHEMERAL
            record.original = self.messages.create_placeholder(
                record.channel,
                self.world.bot_user,
                flags=flags,
                **self._message_fields(record, ephemeral=bool(flags)),
            )
        elif response_type == DEFERRED_UPDATE_MESSAGE:
            record.original = record.source_message
        elif response_type == UPDATE_MESSAGE:
            assert record.source_message is not None
            record.original = self.messages.edit(
                record.source_message,
                RequestBody(payload=data, files=body.files),
                per_file_limit=record.attachment_size_limit,
                prefix=("data",),
            )
        elif response_type == AUTOCOMPLETE_RESULT:
            errors = FormErrors()
            choices = validate_autocomplete_choices(data, record.payload, errors)
            errors.raise_if_any()
            record.choices = choices
        elif response_type == MODAL:
            errors = FormErrors()
            validate_modal(data, errors)
            errors.raise_if_any()
            record.modal = ModalRecord(
                custom_id=data["custom_id"],
                title=data["title"],
                components=data["components"],
                opened_by=record,
            )

    def _callback_result(self, record: InteractionRecord, response_type: int) -> JSON:
        interaction: JSON = {"id": str(record.id), "type": record.type}
        result: JSON = {"interaction": interaction}
        message = record.original
        if message is not None and response_type != MODAL:
            interaction.update(
                {
                    "response_message_id": str(message.id),
                    "response_message_loading": message.loading,
                    "response_message_ephemeral": message.ephemeral,
                }
            )
            if response_type in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, UPDATE_MESSAGE):
                result["resource"] = {"type": response_type, "message": message.payload()}
        return result

    def _message_fields(self, record: InteractionRecord, *, ephemeral: bool) -> JSON:
        metadata: JSON = {
            "id": str(record.id),
            "type": record.type,
            "user": record.member.user.payload(),
            "authorizing_integration_owners": record.payload["authorizing_integration_owners"],
        }
        if record.type == APPLICATION_COMMAND:
            command_type = (record.payload.get("data") or {}).get("type", 1)
            metadata.update({"name": record.name, "command_type": command_type})
        if record.source_message is not None and record.type in (MESSAGE_COMPONENT, MODAL_SUBMIT):
            metadata["interacted_message_id"] = str(record.source_message.id)
        return {
            "webhook_id": self.world.application_id,
            "application_id": self.world.application_id,
            "interaction_metadata": metadata,
            "visible_to": record.member.id if ephemeral else None,
            "type": MESSAGE_CHAT_INPUT_COMMAND
            if record.type == APPLICATION_COMMAND
            else MESSAGE_DEFAULT,
        }

    def _create(
        self, record: InteractionRecord, body: RequestBody, *, prefix: tuple[str, ...] = ()
    ) -> Message:
        ephemeral = bool((body.payload.get("flags") or 0) & EPHEMERAL)
        return self.messages.create(
            record.channel,
            self.world.bot_user,
            body,
            per_file_limit=record.attachment_size_limit,
            prefix=prefix,
            allowed_flags=WEBHOOK_CREATE_FLAGS,
            **self._message_fields(record, ephemeral=ephemeral),
        )

    # -- /webhooks/{application_id}/{token}/... ---------------------------------
    def _record(self, application_id: int, token: str) -> InteractionRecord:
        if application_id != self.world.application_id:
            raise unknown_webhook()
        record = self.registry.by_token(token)
        if record is None or self.clock.now() - record.created_at > self.token_lifetime:
            raise invalid_webhook_token()
        if record.type == AUTOCOMPLETE:  # answered by its callback alone: no message, no webhook
            raise unknown_webhook()
        return record

    @staticmethod
    def _original(record: InteractionRecord) -> Message:
        if record.response_type is None:
            raise unknown_webhook()
        if record.original is None or record.original.deleted:
            raise unknown_message()
        return record.original

    @staticmethod
    def _owned(record: InteractionRecord, message_id: int) -> Message:
        for message in record.messages:
            if message.id == message_id and not message.deleted:
                return message
        raise unknown_message()

    def get_original(self, application_id: int, token: str) -> JSON:
        return self._original(self._record(application_id, token)).payload()

    def edit_original(self, application_id: int, token: str, body: RequestBody) -> JSON:
        record = self._record(application_id, token)
        message = self._original(record)
        self.messages.edit(
            message, body, per_file_limit=record.attachment_size_limit, resolve_loading=True
        )
        record.signal.notify()
        return message.payload()

    def delete_original(self, application_id: int, token: str) -> None:
        record = self._record(application_id, token)
        self.messages.delete(self._original(record))
        record.original_deleted = True
        record.signal.notify()

    def followup(self, application_id: int, token: str, body: RequestBody) -> JSON:
        record = self._record(application_id, token)
        if record.response_type is None:
            raise unknown_webhook()
        owners = record.payload.get("authorizing_integration_owners") or {}
        if "0" not in owners and len(record.followups) >= USER_INSTALL_FOLLOWUPS:
            raise ApiError(
                400, 40094, "This interaction has hit the maximum number of follow up messages"
            )
        original = record.original
        if (
            record.response_type == DEFERRED_CHANNEL_MESSAGE
            and original is not None
            and original.loading
            and not original.deleted
        ):
            message = self.messages.edit(
                original, body, per_file_limit=record.attachment_size_limit, resolve_loading=True
            )
        else:
            message = self._create(record, body)
        record.followups.append(message)
        record.signal.notify()
        return message.payload()

    def get_message(self, application_id: int, token: str, message_id: int) -> JSON:
        return self._owned(self._record(application_id, token), message_id).payload()

    def edit_message(
        self, application_id: int, token: str, message_id: int, body: RequestBody
    ) -> JSON:
        record = self._record(application_id, token)
        message = self._owned(record, message_id)
        self.messages.edit(
            message, body, per_file_limit=record.attachment_size_limit, resolve_loading=True
        )
        record.signal.notify()
        return message.payload()

    def delete_message(self, application_id: int, token: str, message_id: int) -> None:
        record = self._record(application_id, token)
        message = self._owned(record, message_id)
        self.messages.delete(message)
        if message is record.original:
            record.original_deleted = True
        record.signal.notify()
