"""HTTP client for the FLUX.1 SRPO image API: one call in, verified image bytes out.

Everything the rest of the bot should not have to think about lives here: the
retry policy, the overall deadline, downloading provider URLs (which expire) with
a size cap, checking the bytes really are an image, and turning the provider's
statuses into a handful of :class:`~bot.siraya.errors.SirayaError` kinds.

Three rules shape the code:

* A generation is paid for once the provider answers 200, so nothing after that
  point regenerates: a failed download is retried as a download, and a broken
  200 answer is an error, not a retry.
* The API key only ever travels in the ``Authorization`` header of the POST to
  the API. It is not sent to the image host, not logged, not in any repr, and it
  is scrubbed from the provider's error messages (some providers echo it back).
* The answer is untrusted. Images are fetched only from the hosts
  :class:`~bot.siraya.origins.ImageOrigins` allows (every redirect hop checked, every
  resolved address checked by the session's resolver), must be the size that was
  asked for, and are verified in :mod:`bot.imaging`'s bounded decoding pool; big
  answers are parsed there too, off the event loop. Anything else is
  :class:`~bot.siraya.errors.InvalidResponse` ("not a usable image"), never a crash.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from bot.imaging import NotAnImage, run_decoder, verify

from .errors import (
    ApiTimeout,
    AuthError,
    BadRequest,
    ContentRefused,
    InvalidResponse,
    OutOfCredit,
    RateLimited,
    SirayaError,
    UpstreamError,
)
from .models import GenerationRequest
from .origins import AddressRefused, GuardedResolver, ImageOrigins, OriginRefused
from .retry import RetryPolicy, parse_retry_after

__all__ = [
    "GeneratedImage",
    "GenerationResult",
    "RetryPolicy",
    "SirayaClient",
    "create_session",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

_MIME: Final = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
_EXTENSION: Final = {"png": "png", "jpeg": "jpg", "webp": "webp"}
_CHUNK: Final = 64 * 1024
# Error bodies are a few hundred bytes of JSON; a proxy's HTML error page is not worth more.
_ERROR_BODY_CAP: Final = 64 * 1024
_API_MESSAGE_LIMIT: Final = 500
_REDACTED: Final = "[redacted]"
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS: Final = 3
# The provider answers 1-4 entries; far more is an absurd answer, not a bigger gift.
_MAX_ENTRIES: Final = 16
# Commas and brackets bound how many values json.loads would build: a few dozen in a
# real answer (more if a revised prompt is chatty), millions in a memory bomb.
_MAX_JSON_ITEMS: Final = 10_000
# Above this, json.loads and base64 decoding take milliseconds: done in the pool.
_INLINE_PARSE_BYTES: Final = 256 * 1024


@dataclass(frozen=True, slots=True, repr=False)
class GeneratedImage:
    """Verified image bytes; ``format``/``width``/``height`` come from the file header."""

    data: bytes
    format: str  # "png" | "jpeg" | "webp"
    width: int
    height: int

    @property
    def mime(self) -> str:
        return _MIME[self.format]

    @property
    def extension(self) -> str:
        return _EXTENSION[self.format]

    def __repr__(self) -> str:  # the default would print megabytes of bytes
        return (
            f"GeneratedImage(format={self.format!r}, width={self.width}, "
            f"height={self.height}, size={len(self.data)})"
        )


@dataclass(frozen=True, slots=True)
class GenerationResult:
    images: list[GeneratedImage]
    """Usually ``request.count`` images; fewer if the provider sent fewer (logged as a warning)."""
    seed: int | None
    """The request's seed, else one the provider reported, else None (the API usually doesn't)."""
    attempts: int
    """HTTP attempts spent on the generation request (1 = no retry). Downloads not included."""
    api_seconds: float
    """Wall time of the whole call, retries and downloads included."""


def create_session(
    *,
    connect_timeout: float = 10,
    read_timeout: float = 120,
    trust_env: bool = False,
    max_connections: int = 100,
    origins: ImageOrigins | None = None,
    resolver: AbstractResolver | None = None,
) -> aiohttp.ClientSession:
    """A session whose timeouts suit the API: generation can take a minute, connecting cannot.

    ``read_timeout`` bounds each wait for data (including waiting for the response
    headers while the image is being generated); the client's own deadline bounds the
    whole call. ``trust_env`` lets self-hosters route through HTTP(S)_PROXY.
    ``max_connections`` must cover MAX_CONCURRENT_JOBS generations plus their image
    downloads, or the connection pool, not the scheduler, would decide how many run.
    ``origins`` installs a :class:`~bot.siraya.origins.GuardedResolver`, so a name that
    resolves to an address the download policy forbids is refused before connecting
    (pass the same object to :class:`SirayaClient`); ``resolver`` is the DNS it wraps.
    Must be called with an event loop running; the caller closes it.
    """
    guarded = GuardedResolver(origins, resolver) if origins is not None else resolver
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=connect_timeout, sock_read=read_timeout
    )
    return aiohttp.ClientSession(
        timeout=timeout,
        connector=aiohttp.TCPConnector(limit=max_connections, resolver=guarded),
        trust_env=trust_env,
        headers={"User-Agent": "imagine-bot"},
    )


class _Secret:
    """Holds the API key so that no repr, vars() dump or debugger view shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


class _Retryable(Exception):  # internal signal, never escapes the client
    """A failure worth another attempt; ``error`` is what to raise if we give up."""

    def __init__(self, error: SirayaError, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.error = error
        self.reason = reason
        self.retry_after = retry_after


class SirayaClient:
    """Talks to ``{base_url}/images/generations``. One instance per bot, shared by all jobs.

    ``origins`` says where images may be downloaded from (default: the API's origin and
    the provider's resource host); give the session the same object (``create_session``)
    so resolved addresses are checked too. ``sleep``, ``monotonic`` and ``rng`` are
    injectable so tests can drive retries and deadlines without waiting on the wall clock.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        api_key: str,
        base_url: str,
        model: str,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, safe to share
        max_image_bytes: int = 40 * 1024 * 1024,
        origins: ImageOrigins | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key is empty")
        if not model:
            raise ValueError("model is empty")
        base = URL(base_url.rstrip("/"))
        if not base.is_absolute() or base.scheme not in ("http", "https"):
            raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
        if max_image_bytes <= 0:
            raise ValueError("max_image_bytes must be positive")
        self._session = session
        self._key = _Secret(api_key)
        self._base_url = str(base)
        self._endpoint = URL(f"{self._base_url}/images/generations")
        self._model = model
        self._retry = retry
        self._max_image_bytes = max_image_bytes
        self._origins = origins or ImageOrigins(self._base_url)
        self._sleep = sleep
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self._retries_total = 0

    def __repr__(self) -> str:
        return f"SirayaClient(base_url={self._base_url!r}, model={self._model!r})"

    @property
    def model(self) -> str:
        return self._model

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def retries_total(self) -> int:
        """Retries (generation and download) since start; a rising rate means provider trouble."""
        return self._retries_total

    async def generate(
        self, request: GenerationRequest, *, on_generated: Callable[[], None] | None = None
    ) -> GenerationResult:
        """Generate, download and verify ``request.count`` images.

        ``on_generated`` is called once the provider has answered with the images, before
        they are downloaded: the caller's concurrency slot is about generations in
        flight at the provider, and a download or a decode should not hold one.

        Raises :class:`~bot.siraya.models.InvalidRequest` before any I/O if the request is
        invalid, otherwise a :class:`~bot.siraya.errors.SirayaError` subclass.
        """
        payload = request.to_payload(self._model)  # validates
        started = self._monotonic()
        deadline = started + self._retry.deadline
        log.debug(
            "Requesting %d image(s), %s, %d steps, from %s",
            request.count,
            request.size_label,
            request.steps,
            self._endpoint,
        )
        body, attempts = await self._with_retries(
            lambda: self._post(payload, request.count), what="generation", deadline=deadline
        )
        entries = self._entries(body, request.count)
        if on_generated is not None:
            on_generated()
        images = await self._collect(entries, deadline, request.dimensions)
        seed = request.seed if request.seed is not None else _reported_seed(body)
        elapsed = self._monotonic() - started
        log.debug("Got %d image(s) in %.2f s after %d attempt(s)", len(images), elapsed, attempts)
        return GenerationResult(images=images, seed=seed, attempts=attempts, api_seconds=elapsed)

    # -- retry loop -------------------------------------------------------------------------

    async def _with_retries(
        self, operation: Callable[[], Awaitable[T]], *, what: str, deadline: float
    ) -> tuple[T, int]:
        """Run ``operation`` until it succeeds, fails for good, or time/attempts run out."""
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                raise ApiTimeout(
                    f"{what} gave up: the {self._retry.deadline:g} s deadline passed",
                    attempts=attempt - 1,
                )
            scope = asyncio.timeout(remaining)
            try:
                async with scope:
                    return await operation(), attempt
            except TimeoutError:
                if scope.expired():
                    raise ApiTimeout(
                        f"{what} did not finish within the {self._retry.deadline:g} s deadline",
                        attempts=attempt,
                    ) from None
                raise
            except _Retryable as failure:
                error = failure.error
                error.attempts = attempt
                if attempt >= self._retry.max_attempts:
                    log.warning(
                        "Siraya %s failed (%s) on attempt %d/%d; giving up",
                        what,
                        failure.reason,
                        attempt,
                        self._retry.max_attempts,
                    )
                    raise error from failure.__cause__
                delay = self._retry.delay(attempt, self._rng, failure.retry_after)
                if self._monotonic() + delay > deadline:
                    log.warning(
                        "Siraya %s failed (%s) on attempt %d/%d; not retrying: waiting %.2f s "
                        "would pass the deadline",
                        what,
                        failure.reason,
                        attempt,
                        self._retry.max_attempts,
                        delay,
                    )
                    raise error from failure.__cause__
                log.warning(
                    "Siraya %s failed (%s) on attempt %d/%d; retrying in %.2f s",
                    what,
                    failure.reason,
                    attempt,
                    self._retry.max_attempts,
                    delay,
                )
                self._retries_total += 1
                await self._sleep(delay)

    # -- the generation request -------------------------------------------------------------

    async def _post(self, payload: Mapping[str, object], count: int) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._key.reveal()}", "Accept": "application/json"}
        try:
            # No redirects: the key must not follow the API anywhere (a 3xx is a wrong base URL).
            async with self._session.post(
                self._endpoint, json=payload, headers=headers, allow_redirects=False
            ) as resp:
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
                if 200 <= status < 300:
                    raw = await self._read_answer(resp, count)
                else:
                    raw = await _read_error_body(resp)
        except TimeoutError as exc:  # aiohttp's read/connect timeouts are TimeoutErrors too
            raise _Retryable(
                ApiTimeout("the image API did not answer in time"), "read timed out"
            ) from exc
        except aiohttp.ClientError as exc:
            raise _Retryable(
                UpstreamError(f"connection to the image API failed ({type(exc).__name__})"),
                f"connection failed: {type(exc).__name__}",
            ) from exc
        if 200 <= status < 300:
            return await _parse_answer(raw)
        raise self._status_error(status, raw, retry_after)

    async def _read_answer(self, resp: aiohttp.ClientResponse, count: int) -> bytes:
        """The body of a 2xx answer; a body that breaks off is final, never retried.

        Once the API said 200 it has generated (and billed) the images: POSTing again
        would pay twice for one result. The job fails as unusable instead, so the member
        is not charged and is told to try again themselves.
        """
        try:
            return await _read_capped(resp, self._response_cap(count), "API response")
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning(
                "The image API's answer broke off after HTTP %d (%s); not asking again: "
                "the provider may have billed this generation already",
                resp.status,
                type(exc).__name__,
            )
            raise InvalidResponse(
                f"the image API's answer broke off mid-way ({type(exc).__name__})",
                status=resp.status,
            ) from None

    def _response_cap(self, count: int) -> int:
        # Room for ``count`` base64 images at the image cap, plus the JSON around them.
        return count * (self._max_image_bytes * 4 // 3 + 4) + 64 * 1024

    def _status_error(
        self, status: int, raw: bytes, retry_after_header: str | None
    ) -> SirayaError | _Retryable:
        message, code = _error_fields(raw)
        api_message = self._scrub(message)
        detail = f"HTTP {status}" + (f" ({code})" if code not in (None, "", status) else "")
        summary = f"image API answered {detail}" + (f": {api_message}" if api_message else "")
        fields: dict[str, Any] = {"status": status, "api_message": api_message}
        if status == 400:
            return BadRequest(summary, **fields)
        if status == 401:
            return AuthError(f"{summary} — check the API key", **fields)
        if status == 402:
            return OutOfCredit(f"{summary} — the provider account needs credit", **fields)
        if status in (403, 422):
            return ContentRefused(summary, **fields)
        retry_after = parse_retry_after(retry_after_header)
        reason = detail + (f": {api_message}" if api_message else "")
        if status == 408:
            return _Retryable(ApiTimeout(summary, **fields), reason, retry_after)
        if status == 429:
            return _Retryable(RateLimited(summary, **fields), reason, retry_after)
        if status >= 500:
            return _Retryable(UpstreamError(summary, **fields), reason, retry_after)
        # Other 4xx (404, 405, 413 …) mean a wrong base URL or model route: retrying won't help.
        return UpstreamError(f"{summary} — check the base URL", **fields)

    def _scrub(self, text: str | None) -> str | None:
        """Make provider text safe to keep: without the key, and not unboundedly long."""
        if not text:
            return None
        text = text.replace(self._key.reveal(), _REDACTED).strip()
        if len(text) > _API_MESSAGE_LIMIT:
            text = text[: _API_MESSAGE_LIMIT - 1] + "…"
        return text or None

    def _entries(self, body: Mapping[str, Any], count: int) -> list[Mapping[str, Any]]:
        data = body.get("data")
        if not isinstance(data, list) or not data:
            raise InvalidResponse("the image API answered 200 without any images")
        if len(data) > _MAX_ENTRIES:
            raise InvalidResponse(
                f"the image API gave an absurd answer: {len(data)} images for {count} requested"
            )
        if not all(isinstance(entry, dict) for entry in data):
            raise InvalidResponse("the image API answered with malformed image entries")
        if len(data) > count:
            log.warning(
                "Siraya returned %d images for %d requested; keeping %d", len(data), count, count
            )
            data = data[:count]
        elif len(data) < count:
            log.warning("Siraya returned %d image(s) for %d requested", len(data), count)
        return data

    # -- images -----------------------------------------------------------------------------

    async def _collect(
        self, entries: list[Mapping[str, Any]], deadline: float, size: tuple[int, int]
    ) -> list[GeneratedImage]:
        """Fetch all images concurrently; the first failure cancels the rest."""
        tasks = [
            asyncio.create_task(self._image(index, entry, deadline, size))
            for index, entry in enumerate(entries)
        ]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _image(
        self, index: int, entry: Mapping[str, Any], deadline: float, size: tuple[int, int]
    ) -> GeneratedImage:
        encoded = entry.get("b64_json")
        url = entry.get("url")
        what = f"image {index + 1}"
        if isinstance(encoded, str) and encoded:
            data = await self._decode_b64(encoded)
        elif isinstance(url, str) and url:
            data, _ = await self._with_retries(
                lambda: self._download(url, what), what=f"{what} download", deadline=deadline
            )
        else:
            raise InvalidResponse(f"{what} has neither a url nor b64_json")
        if len(data) > self._max_image_bytes:
            raise InvalidResponse(_too_big(what, len(data), self._max_image_bytes))
        try:
            # All in the pool, header first: even the header walk is a loop over bytes a
            # hostile host chose, so none of it runs on the event loop.
            info = await run_decoder(verify, data, expect=size)
        except NotAnImage as exc:
            raise InvalidResponse(f"{what} is not a usable image ({exc})") from None
        return GeneratedImage(data=data, format=info.format, width=info.width, height=info.height)

    async def _decode_b64(self, encoded: str) -> bytes:
        if encoded.startswith("data:"):  # tolerate a data: URL in place of bare base64
            encoded = encoded.partition(",")[2]
        if len(encoded) // 4 * 3 > self._max_image_bytes + 3:
            raise InvalidResponse(
                _too_big("base64 image", len(encoded) // 4 * 3, self._max_image_bytes)
            )
        try:
            if len(encoded) > _INLINE_PARSE_BYTES:
                return await run_decoder(base64.b64decode, encoded, validate=False)
            return base64.b64decode(encoded, validate=False)
        except (binascii.Error, ValueError):
            raise InvalidResponse("the image API sent b64_json that is not base64") from None

    def _allowed(self, target: URL, what: str) -> None:
        """Refuse ``target`` unless the download policy allows it; tell the owner which host."""
        try:
            self._origins.check(target)
        except OriginRefused as refused:
            self._refused(what, refused.host, refused.reason)

    def _refused(self, what: str, host: str, reason: str) -> None:
        # Only the host: a URL's path and query can carry the provider's signed tokens.
        log.warning(
            "Refused to download %s from %s: %s. Images are fetched only from %s "
            "(set SIRAYA_IMAGE_HOSTS to allow another host).",
            what,
            host,
            reason,
            self._origins.describe(),
        )
        raise InvalidResponse(f"{what} is not a usable image (refused host {host}: {reason})")

    async def _download(self, url: str, what: str) -> bytes:
        """GET an image, following at most a few redirects, each hop checked first."""
        # encoded=True: send the provider's URL byte for byte (its paths contain %2F).
        target = URL(url, encoded=True)
        for _ in range(_MAX_REDIRECTS + 1):
            self._allowed(target, what)
            status, body, location, retry_after = await self._fetch(target, what)
            if body is not None:
                return body
            if status not in _REDIRECTS:
                break
            if not location:
                raise InvalidResponse(f"image host answered HTTP {status} without a Location")
            try:
                target = target.join(URL(location, encoded=True))
            except ValueError:
                raise InvalidResponse("image host redirected to a malformed URL") from None
        else:
            raise InvalidResponse(f"{what} redirected more than {_MAX_REDIRECTS} times")
        if status in (408, 429) or status >= 500:
            error = UpstreamError(f"image host answered HTTP {status}", status=status)
            raise _Retryable(error, f"image HTTP {status}", parse_retry_after(retry_after))
        # 404/410: the file is gone (URLs expire); regenerating would bill the user again.
        raise InvalidResponse(f"image host answered HTTP {status}", status=status)

    async def _fetch(
        self, target: URL, what: str
    ) -> tuple[int, bytes | None, str | None, str | None]:
        """One hop: (status, body if 2xx, Location, Retry-After)."""
        try:
            # No Authorization header: the image host is a different service.
            async with self._session.get(
                target, headers={"Accept": "image/*"}, allow_redirects=False
            ) as resp:
                status = resp.status
                if 200 <= status < 300:
                    return (
                        status,
                        await _read_capped(resp, self._max_image_bytes, "image"),
                        None,
                        None,
                    )
                return status, None, resp.headers.get("Location"), resp.headers.get("Retry-After")
        except TimeoutError as exc:
            raise _Retryable(
                ApiTimeout("the image host did not answer in time"), "image read timed out"
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, AddressRefused):
                self._refused(what, exc.os_error.host, str(exc.os_error))
            raise _Retryable(
                UpstreamError(f"downloading the image failed ({type(exc).__name__})"),
                f"image connection failed: {type(exc).__name__}",
            ) from exc
        except aiohttp.ClientError as exc:
            raise _Retryable(
                UpstreamError(f"downloading the image failed ({type(exc).__name__})"),
                f"image connection failed: {type(exc).__name__}",
            ) from exc


def _too_big(what: str, size: int, cap: int) -> str:
    return f"{what} is {size} bytes, over the {cap}-byte limit"


async def _read_capped(resp: aiohttp.ClientResponse, cap: int, what: str) -> bytes:
    """Read a body, refusing (and dropping the connection) as soon as it exceeds ``cap``."""
    declared = resp.content_length
    if declared is not None and declared > cap:
        raise InvalidResponse(_too_big(what, declared, cap), status=resp.status)
    buffer = bytearray()
    async for chunk in resp.content.iter_chunked(_CHUNK):
        buffer += chunk
        if len(buffer) > cap:
            raise InvalidResponse(f"{what} is over the {cap}-byte limit", status=resp.status)
    return bytes(buffer)


async def _read_error_body(resp: aiohttp.ClientResponse) -> bytes:
    try:
        return await _read_capped(resp, _ERROR_BODY_CAP, "error body")
    except InvalidResponse:
        return b""  # the status alone decides what happens next


async def _parse_answer(raw: bytes) -> dict[str, Any]:
    """Parse a 200 answer: refuse absurd ones unparsed, parse big ones in the pool."""
    items = raw.count(b",") + raw.count(b"[") + raw.count(b"{")
    if items > _MAX_JSON_ITEMS:
        raise InvalidResponse(f"the image API answered 200 with absurd JSON ({items} values)")
    if len(raw) > _INLINE_PARSE_BYTES:
        return await run_decoder(_parse_json_object, raw)
    return _parse_json_object(raw)


def _parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InvalidResponse("the image API answered 200 with malformed JSON") from None
    if not isinstance(body, dict):
        raise InvalidResponse("the image API answered 200 with JSON that is not an object")
    return body


def _error_fields(raw: bytes) -> tuple[str | None, object]:
    """(message, code) from an OpenAI-style error body, tolerating anything else."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, None
    if not isinstance(body, dict):
        return None, None
    error = body.get("error")
    if isinstance(error, str):
        return error, None
    if isinstance(error, dict):
        message = error.get("message")
        code = error.get("code")
        if isinstance(code, str | int) and not isinstance(code, bool):
            code_value: object = code
        else:
            code_value = error.get("type") if isinstance(error.get("type"), str) else None
        return (message if isinstance(message, str) else None), code_value
    for key in ("message", "detail"):
        if isinstance(body.get(key), str):
            return body[key], None
    return None, None


def _reported_seed(body: Mapping[str, Any]) -> int | None:
    seed = body.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        return seed
    return None
