"""What can go wrong when asking the image API for pictures, sorted by what the bot should do.

Callers branch on ``kind`` (or the subclass), never on status codes: the client
already folded retries, timeouts and the provider's quirks into one of these.
None of them ever carries the API key: ``api_message`` is scrubbed by the client
before an error is built, and the key is never passed in.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    BAD_REQUEST = "bad_request"
    """The provider rejected the parameters; ``api_message`` is safe to show the user."""
    AUTH = "auth"
    """The API key is wrong or missing: the bot is misconfigured (owner must act)."""
    OUT_OF_CREDIT = "out_of_credit"
    """The provider account ran dry: pause generation, alert the owner."""
    REFUSED = "refused"
    """The provider's moderation refused the prompt (403, or 422 content_policy_violation)."""
    RATE_LIMITED = "rate_limited"
    """Still rate limited (429) after every retry the policy allowed."""
    UPSTREAM = "upstream"
    """5xx or dropped connections after every retry the policy allowed."""
    TIMEOUT = "timeout"
    """The provider was too slow: read timeouts, 408, or the overall deadline passed."""
    BAD_RESPONSE = "bad_response"
    """A 200 answer that is unusable: bad JSON, no images, not an image, too big, image gone."""


class SirayaError(Exception):
    """Base for every failure of :meth:`SirayaClient.generate` other than local validation.

    ``str(exc)`` is a sentence for logs and the owner, not for end users; user-facing
    wording is built by the presentation layer from ``kind`` (and, for BAD_REQUEST,
    from ``api_message``).
    """

    kind: ErrorKind = ErrorKind.UPSTREAM

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        api_message: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.api_message = api_message
        # How many HTTP attempts were spent before giving up; useful in logs and metrics.
        self.attempts = attempts

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(kind={self.kind.value!r}, status={self.status!r}, "
            f"message={str(self)!r}, api_message={self.api_message!r}, attempts={self.attempts})"
        )


class BadRequest(SirayaError):
    kind = ErrorKind.BAD_REQUEST


class AuthError(SirayaError):
    kind = ErrorKind.AUTH


class OutOfCredit(SirayaError):
    kind = ErrorKind.OUT_OF_CREDIT


class ContentRefused(SirayaError):
    kind = ErrorKind.REFUSED


class RateLimited(SirayaError):
    kind = ErrorKind.RATE_LIMITED


class UpstreamError(SirayaError):
    kind = ErrorKind.UPSTREAM


class ApiTimeout(SirayaError):
    kind = ErrorKind.TIMEOUT


class InvalidResponse(SirayaError):
    kind = ErrorKind.BAD_RESPONSE
