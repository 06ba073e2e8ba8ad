"""A local stand-in for the Siraya FLUX.1 SRPO image API.

It follows /work/shared/siraya-api.md, not the bot's code: it keeps its own copy of
the presets and the provider's (wider) bounds, so a drift between what the bot
sends and what the API accepts shows up as a failing test instead of being
mirrored. It is strict where the provider is strict, returns real PNGs of the
requested size, and can be told to misbehave in every way the client must survive,
including as a hostile service would: crafted files (bombs, wrong or giant sizes; see
``tests/emulators/crafted.py``), image URLs on foreign hosts, redirects, absurd answers.

    async with SirayaEmulator() as emulator:        # emulator.base_url is ready
        emulator.fail_next(Fault.status(503), Fault.rate_limited(retry_after=2))
        ...

Used by the client tests, the end-to-end tests and the offline demo.
"""

from __future__ import annotations

import asyncio
import base64
import colorsys
import contextlib
import hashlib
import io
import json
import random
import re
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Self
from urllib.parse import quote

from aiohttp import web
from PIL import Image, ImageDraw, ImageFilter, ImageFont

DEFAULT_MODEL: Final = "flux-1-srpo-text-to-image"
# From the spec, deliberately not imported from bot.siraya (see module docstring).
PRESETS: Final[dict[str, tuple[int, int]]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
UPSTREAM_MAX_SIDE: Final = 14142
_ACCELERATIONS: Final = ("none", "regular", "high")
_OUTPUT_FORMATS: Final = ("url", "b64_json")
_RENDER_CACHE_SIZE: Final = 64
LISTEN_BACKLOG: Final = 1024
"""Connections waiting to be accepted (aiohttp's default, 128, drops SYNs in a burst)."""
_FILES_KEPT: Final = 512
_NOT_AN_IMAGE: Final = b"<html><body><h1>Welcome to nginx!</h1></body></html>\n"
_DEFAULT_STATUS_MESSAGES: Final = {
    400: "Bad request.",
    401: "Invalid API key.",
    402: "Insufficient account balance.",
    403: "Request refused by moderation.",
    408: "Provider timed out.",
    422: "Invalid prompt detected.",
    429: "Rate limit exceeded, please slow down.",
    500: "Internal server error.",
    502: "Upstream provider error.",
    503: "No provider available.",
}


class FaultKind(StrEnum):
    STATUS = "status"
    DROP_CONNECTION = "drop_connection"
    HANG = "hang"
    MALFORMED_JSON = "malformed_json"
    EMPTY_DATA = "empty_data"
    NOT_AN_IMAGE = "not_an_image"
    IMAGE_404 = "image_404"
    IMAGE_STATUS = "image_status"
    OVERSIZE_IMAGE = "oversize_image"
    SLOW = "slow"
    CRAFTED = "crafted"
    IMAGE_AT = "image_at"
    REDIRECT = "redirect"
    MANY_ENTRIES = "many_entries"
    CUT_ANSWER = "cut_answer"


@dataclass(frozen=True, slots=True)
class Fault:
    """One misbehaviour, consumed by the next generation request. Build with the classmethods."""

    kind: FaultKind
    code: int | None = None
    message: str | None = None
    retry_after: str | None = None
    seconds: float = 0.0
    size: int = 0
    chunked: bool = False
    times: int = 1
    data: bytes = b""
    origin: str = ""

    @classmethod
    def status(
        cls, code: int, message: str | None = None, *, retry_after: float | str | None = None
    ) -> Fault:
        """Answer with an OpenAI-style error body and this status (e.g. 503, 401, 422)."""
        return cls(FaultKind.STATUS, code=code, message=message, retry_after=_header(retry_after))

    @classmethod
    def rate_limited(cls, retry_after: float | str | None = None) -> Fault:
        """429, with ``Retry-After`` in seconds (number) or as an HTTP date (string) if given."""
        return cls.status(429, retry_after=retry_after)

    @classmethod
    def drop_connection(cls) -> Fault:
        """Close the TCP connection without answering (client sees a server disconnect)."""
        return cls(FaultKind.DROP_CONNECTION)

    @classmethod
    def hang(cls) -> Fault:
        """Never answer (until the emulator stops): exercises read timeouts and the deadline."""
        return cls(FaultKind.HANG)

    @classmethod
    def malformed_json(cls) -> Fault:
        return cls(FaultKind.MALFORMED_JSON)

    @classmethod
    def empty_data(cls) -> Fault:
        """200 with ``{"data": []}``."""
        return cls(FaultKind.EMPTY_DATA)

    @classmethod
    def not_an_image(cls) -> Fault:
        """The image (URL or b64_json) is an HTML page instead of a PNG."""
        return cls(FaultKind.NOT_AN_IMAGE)

    @classmethod
    def image_404(cls) -> Fault:
        """The returned URL points nowhere (as if expired). Forces url output."""
        return cls(FaultKind.IMAGE_404)

    @classmethod
    def image_status(cls, code: int, *, times: int = 1) -> Fault:
        """The image URL answers ``code`` for the first ``times`` downloads, then the image."""
        return cls(FaultKind.IMAGE_STATUS, code=code, times=times)

    @classmethod
    def oversize_image(cls, size: int, *, chunked: bool = False) -> Fault:
        """The image is ``size`` bytes (a real PNG, padded). ``chunked`` hides the length."""
        return cls(FaultKind.OVERSIZE_IMAGE, size=size, chunked=chunked)

    @classmethod
    def crafted(cls, data: bytes) -> Fault:
        """Every image is exactly ``data`` (a bomb, a wrong size …), as URL or b64_json."""
        return cls(FaultKind.CRAFTED, data=data)

    @classmethod
    def image_at(cls, origin: str) -> Fault:
        """The image URLs name ``origin`` (e.g. ``http://localhost:PORT``) instead of the
        emulator's own; the file is served wherever that reaches."""
        return cls(FaultKind.IMAGE_AT, origin=origin.rstrip("/"))

    @classmethod
    def redirect(cls, to: str | None = None, *, hops: int = 1, code: int = 302) -> Fault:
        """The image URL answers ``code`` ``hops`` times, finally pointing at the file on
        origin ``to`` (default: the emulator itself)."""
        return cls(FaultKind.REDIRECT, origin=(to or "").rstrip("/"), times=hops, code=code)

    @classmethod
    def many_entries(cls, count: int) -> Fault:
        """200 with ``count`` image entries, whatever ``n`` was asked for."""
        return cls(FaultKind.MANY_ENTRIES, size=count)

    @classmethod
    def cut_answer(cls) -> Fault:
        """Generate (and bill) the images, answer 200, then break the connection halfway
        through the body."""
        return cls(FaultKind.CUT_ANSWER)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally, but only after ``seconds`` (on top of ``latency``)."""
        return cls(FaultKind.SLOW, seconds=seconds)


async def _cut(request: web.Request, body: bytes) -> web.StreamResponse:
    """Send 200 and half of ``body`` (its full length declared), then drop the connection."""
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.abort()
    return response


def _header(value: float | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A generation request as received; ``json`` is None if the body was not JSON."""

    json: Any
    headers: dict[str, str]


@dataclass(slots=True)
class _File:
    data: bytes
    content_type: str = "image/png"
    failures_left: int = 0
    failure_status: int = 503
    chunked: bool = False


@dataclass(frozen=True, slots=True)
class Look:
    """The settings besides prompt, seed and size that change a picture (the safety
    checker only filters, so it is not one of them); the provider's defaults."""

    steps: int = 28
    guidance: float = 4.5
    acceleration: str = "regular"


@dataclass(slots=True)
class _Job:
    """A validated request, reduced to what rendering needs."""

    prompt: str
    seed: int
    width: int
    height: int
    n: int
    output_format: str
    look: Look


async def _first(*waits: Coroutine[Any, Any, object]) -> None:
    """Return when the first of ``waits`` finishes; cancel the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


class SirayaEmulator:
    """An aiohttp server on 127.0.0.1 behaving like ``POST /v1/images/generations``."""

    def __init__(self, *, api_key: str = "test-key", latency: float = 0.0) -> None:
        self.api_key = api_key
        self.latency = latency
        self.model = DEFAULT_MODEL
        self.credit: int | None = None
        """Images left on the account; None is unlimited. A request needing more gets 402."""
        self.blocked_words: set[str] = {"forbidden"}
        self.requests: list[RecordedRequest] = []
        self.image_downloads = 0
        self.download_headers: list[dict[str, str]] = []
        self.oversize_bytes_sent = 0
        self.redirects_served = 0
        """Bytes actually written for oversize chunked images (shows the client hung up early)."""
        self._faults: deque[Fault] = deque()
        self._seed_faults: dict[int, deque[Fault]] = {}
        self._files: OrderedDict[str, _File] = OrderedDict()
        self._renders: OrderedDict[tuple[str, int, int, int, int, Look], bytes] = OrderedDict()
        self._seeds = random.Random()
        self._runner: web.AppRunner | None = None
        self._released = asyncio.Event()
        self._origin = ""
        self._gate = asyncio.Event()
        self._gate.set()
        self._arrived = asyncio.Condition()

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/v1/images/generations", self._handle_generation)
        app.router.add_get("/image/{name}", self._handle_download)
        app.router.add_get("/redirect/{name}", self._handle_redirect)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        # As the Discord emulator: a burst of requests must not meet a full listen queue.
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=LISTEN_BACKLOG)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self._released.clear()
        self._origin = f"http://{host}:{port}"
        return self.base_url

    async def stop(self) -> None:
        self._released.set()  # wake hung and slow handlers so shutdown is immediate
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._runner is None:
            raise RuntimeError("the emulator is not started")
        return int(self._runner.addresses[0][1])

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``: where the API and its files are."""
        if not self._origin:
            raise RuntimeError("the emulator is not started")
        return self._origin

    @property
    def base_url(self) -> str:
        if not self._origin:
            raise RuntimeError("the emulator is not started")
        return f"{self._origin}/v1"

    def hold(self) -> None:
        """Keep every generation request waiting (after it is recorded) until :meth:`release`.

        Lets a test freeze jobs mid-flight — to fill the queue, cancel one, or kill the
        bot while the API is "working" — without sleeping.
        """
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    async def wait_for_requests(self, count: int, *, timeout: float = 10.0) -> None:
        """Wait until at least ``count`` generation requests have arrived in total."""
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.requests) >= count), timeout
            )

    def fail_next(self, *faults: Fault) -> None:
        """Queue faults; each generation request consumes one, in order."""
        self._faults.extend(faults)

    def fail_seed(self, seed: int, *faults: Fault) -> None:
        """Queue faults for the requests asking for ``seed`` only, whatever order concurrent
        requests arrive in: one image of several can fail while the others arrive."""
        self._seed_faults.setdefault(seed, deque()).extend(faults)

    @property
    def pending_faults(self) -> int:
        return len(self._faults) + sum(len(queue) for queue in self._seed_faults.values())

    def _next_fault(self, body: Any) -> Fault | None:
        seed = body.get("seed") if isinstance(body, dict) else None
        targeted = self._seed_faults.get(seed) if isinstance(seed, int) else None
        if targeted:
            return targeted.popleft()
        return self._faults.popleft() if self._faults else None

    # -- generation -------------------------------------------------------------------------

    async def _handle_generation(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = None
        self.requests.append(RecordedRequest(json=body, headers=dict(request.headers)))
        async with self._arrived:
            self._arrived.notify_all()
        if not self._gate.is_set():
            await _first(self._gate.wait(), self._released.wait())
        if self.latency > 0:
            await self._pause(self.latency)
        fault = self._next_fault(body)

        if fault is not None:
            early = await self._early_fault(fault, request)
            if early is not None:
                return early

        if request.headers.get("Authorization", "") != f"Bearer {self.api_key}":
            given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            # Echo the key like some providers do: the client must scrub it from errors.
            return _error(
                401,
                f"Incorrect API key provided: {given or '(none)'}.",
                "authentication_error",
                code=401,
            )
        problem = self._validate(body)
        if problem is not None:
            param, message = problem
            return _error(400, message, "invalid_request_error", param=param, code="invalid_value")
        job = self._job(body)
        if self._blocked(job.prompt):
            return _error(
                422,
                "Invalid prompt detected.",
                "invalid_request_error",
                param="prompt",
                code="content_policy_violation",
            )
        if self.credit is not None and self.credit < job.n:
            return _error(402, _DEFAULT_STATUS_MESSAGES[402], "insufficient_quota", code=402)

        if fault is not None and fault.kind is FaultKind.EMPTY_DATA:
            return web.json_response({"data": [], "created": int(time.time())})

        images = await asyncio.gather(
            *(
                self.render(job.prompt, job.seed, i, job.width, job.height, job.look)
                for i in range(job.n)
            )
        )
        if self.credit is not None:
            self.credit -= job.n
        entries = [self._entry(data, job.output_format, fault) for data in images]
        if fault is not None and fault.kind is FaultKind.MANY_ENTRIES:
            entries = [entries[0]] * fault.size
        answer = {"data": entries, "created": int(time.time())}
        if fault is not None and fault.kind is FaultKind.CUT_ANSWER:
            return await _cut(request, json.dumps(answer).encode())
        return web.json_response(answer)

    async def _early_fault(self, fault: Fault, request: web.Request) -> web.StreamResponse | None:
        """Faults that replace the answer outright; None lets the request proceed."""
        if fault.kind is FaultKind.STATUS:
            assert fault.code is not None
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            message = fault.message or _DEFAULT_STATUS_MESSAGES.get(fault.code, "Error.")
            code: int | str = "content_policy_violation" if fault.code == 422 else fault.code
            return _error(fault.code, message, "api_error", code=code, headers=headers)
        if fault.kind is FaultKind.DROP_CONNECTION:
            if request.transport is not None:
                request.transport.abort()
            return web.Response()  # never reaches the client
        if fault.kind is FaultKind.HANG:
            await self._released.wait()
            return _error(503, "Emulator shutting down.", "api_error", code=503)
        if fault.kind is FaultKind.MALFORMED_JSON:
            return web.Response(body=b'{"data": [{"url": "http://', content_type="application/json")
        if fault.kind is FaultKind.SLOW:
            await self._pause(fault.seconds)
        return None

    def _entry(self, png: bytes, output_format: str, fault: Fault | None) -> dict[str, str]:
        kind = fault.kind if fault is not None else None
        file = _File(png)
        if kind is FaultKind.NOT_AN_IMAGE:
            file = _File(_NOT_AN_IMAGE, content_type="text/html")
        elif kind is FaultKind.OVERSIZE_IMAGE:
            assert fault is not None
            file = _File(_pad(png, fault.size), chunked=fault.chunked)
        elif kind is FaultKind.IMAGE_STATUS:
            assert fault is not None and fault.code is not None
            file = _File(png, failures_left=fault.times, failure_status=fault.code)
        elif kind is FaultKind.CRAFTED:
            assert fault is not None
            file = _File(fault.data)

        if kind is FaultKind.IMAGE_404:
            return {"url": self._url(f"generated/siraya_{uuid.uuid4()}.png"), **_BLANK}
        url_only = (FaultKind.IMAGE_STATUS, FaultKind.IMAGE_AT, FaultKind.REDIRECT)
        if output_format == "b64_json" and kind not in url_only:
            return {
                "url": "",
                "b64_json": base64.b64encode(file.data).decode(),
                "revised_prompt": "",
            }
        name = f"generated/siraya_{uuid.uuid4()}.png"
        self._files[name] = file
        while len(self._files) > _FILES_KEPT:
            self._files.popitem(last=False)
        if kind is FaultKind.IMAGE_AT:
            assert fault is not None
            return {"url": self._url(name, fault.origin), **_BLANK}
        if kind is FaultKind.REDIRECT:
            assert fault is not None
            return {"url": self._redirect_url(name, fault.times, fault), **_BLANK}
        return {"url": self._url(name), **_BLANK}

    def _url(self, name: str, origin: str | None = None) -> str:
        # Like the real host: the "/" inside the file name is percent-encoded.
        return f"{origin or self._origin}/image/{name.replace('/', '%2F')}"

    def _redirect_url(self, name: str, hops: int, fault: Fault) -> str:
        target = quote(fault.origin or self._origin, safe="")
        return (
            f"{self._origin}/redirect/{name.replace('/', '%2F')}"
            f"?hops={hops}&to={target}&code={fault.code or 302}"
        )

    def _blocked(self, prompt: str) -> bool:
        words = set(re.findall(r"\w+", prompt.casefold()))
        return any(word.casefold() in words for word in self.blocked_words)

    # -- validation (the provider's bounds, not the bot's) -----------------------------------

    def _validate(self, body: Any) -> tuple[str | None, str] | None:
        if not isinstance(body, dict):
            return None, "Request body must be a JSON object."
        model = body.get("model")
        if model is None:
            return "model", "model is required."
        if model != self.model:
            return "model", f"Model '{model}' does not exist or is not available."
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return "prompt", "prompt is required and must be a non-empty string."
        if "size" in body and "image_size" in body:
            return "size", "Provide either size or image_size, not both."
        if "size" in body and body["size"] not in PRESETS:
            return "size", f"Invalid size '{body['size']}'. Must be one of: {', '.join(PRESETS)}."
        if "image_size" in body:
            image_size = body["image_size"]
            if not isinstance(image_size, dict):
                return "image_size", "image_size must be an object with width and height."
            for side in ("width", "height"):
                if not _int_in(image_size.get(side), 1, UPSTREAM_MAX_SIDE):
                    return (
                        f"image_size.{side}",
                        f"image_size.{side} must be an integer between 1 and {UPSTREAM_MAX_SIDE}.",
                    )
        checks: tuple[tuple[str, bool, str], ...] = (
            (
                "num_inference_steps",
                _int_in(body.get("num_inference_steps", 28), 1, 50),
                "num_inference_steps must be an integer between 1 and 50.",
            ),
            (
                "guidance_scale",
                _number_in(body.get("guidance_scale", 4.5), 1, 20),
                "guidance_scale must be a number between 1 and 20.",
            ),
            (
                "acceleration",
                body.get("acceleration", "regular") in _ACCELERATIONS,
                "acceleration must be one of: none, regular, high.",
            ),
            ("n", _int_in(body.get("n", 1), 1, 4), "n must be an integer between 1 and 4."),
            (
                "output_format",
                body.get("output_format", "url") in _OUTPUT_FORMATS,
                "output_format must be 'url' or 'b64_json'.",
            ),
            (
                "seed",
                "seed" not in body or _int_in(body["seed"], 0, 2**63 - 1),
                "seed must be a non-negative integer.",
            ),
            (
                "enable_safety_checker",
                isinstance(body.get("enable_safety_checker", False), bool),
                "enable_safety_checker must be a boolean.",
            ),
        )
        for param, ok, message in checks:
            if not ok:
                return param, message
        return None

    def _job(self, body: dict[str, Any]) -> _Job:
        if "image_size" in body:
            width, height = body["image_size"]["width"], body["image_size"]["height"]
        else:
            width, height = PRESETS[body.get("size", "landscape_4_3")]
        seed = body["seed"] if "seed" in body else self._seeds.randint(0, 2**32 - 1)
        return _Job(
            prompt=body["prompt"],
            seed=seed,
            width=width,
            height=height,
            n=body.get("n", 1),
            output_format=body.get("output_format", "url"),
            look=Look(
                steps=body.get("num_inference_steps", 28),
                guidance=float(body.get("guidance_scale", 4.5)),
                acceleration=body.get("acceleration", "regular"),
            ),
        )

    # -- files ------------------------------------------------------------------------------

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        self.image_downloads += 1
        self.download_headers.append(dict(request.headers))
        file = self._files.get(request.match_info["name"])
        if file is None:
            return web.Response(status=404, text="Not Found")
        if file.failures_left > 0:
            file.failures_left -= 1
            return web.Response(status=file.failure_status, text="Try again later")
        if not file.chunked:
            return web.Response(body=file.data, content_type=file.content_type)
        response = web.StreamResponse(headers={"Content-Type": file.content_type})
        response.enable_chunked_encoding()
        await response.prepare(request)
        view = memoryview(file.data)
        try:
            for start in range(0, len(view), 64 * 1024):
                chunk = view[start : start + 64 * 1024]
                await response.write(chunk)
                self.oversize_bytes_sent += len(chunk)
            await response.write_eof()
        except ConnectionError:
            pass  # the client hung up, as it should once over its cap
        return response

    async def _handle_redirect(self, request: web.Request) -> web.StreamResponse:
        self.redirects_served += 1
        name = request.match_info["name"]
        hops = int(request.query.get("hops", "1"))
        to = request.query.get("to", self._origin)
        code = int(request.query.get("code", "302"))
        if hops > 1:
            location = (
                f"/redirect/{name.replace('/', '%2F')}"
                f"?hops={hops - 1}&to={quote(to, safe='')}&code={code}"
            )
        else:
            location = self._url(name, to)
        return web.Response(status=code, headers={"Location": location})

    # -- images -----------------------------------------------------------------------------

    async def render(
        self,
        prompt: str,
        seed: int,
        index: int,
        width: int,
        height: int,
        look: Look = Look(),
    ) -> bytes:
        """The PNG this emulator returns for these inputs (cached; rendered off the loop)."""
        key = (prompt, seed, index, width, height, look)
        cached = self._renders.get(key)
        if cached is not None:
            self._renders.move_to_end(key)
            return cached
        data = await asyncio.to_thread(render_image, prompt, seed, index, width, height, look)
        self._renders[key] = data
        while len(self._renders) > _RENDER_CACHE_SIZE:
            self._renders.popitem(last=False)
        return data

    async def _pause(self, seconds: float) -> None:
        """Simulated server time that ends early when the emulator stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._released.wait(), seconds)


_BLANK: Final = {"b64_json": "", "revised_prompt": ""}


def _error(
    status: int,
    message: str,
    type_: str,
    *,
    param: str | None = None,
    code: int | str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def _int_in(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _number_in(value: object, low: float, high: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high


def _pad(png: bytes, size: int) -> bytes:
    """Exactly ``size`` bytes that still start like the PNG, so only the size cap rejects it."""
    return png[:size] if size <= len(png) else png + bytes(size - len(png))


def render_image(
    prompt: str,
    seed: int,
    index: int,
    width: int,
    height: int,
    look: Look = Look(),
) -> bytes:
    """A soft, colourful PNG of exactly width×height, fully determined by the inputs.

    The palette comes from a hash of (prompt, seed, index, steps, guidance,
    acceleration), so a new seed or setting visibly changes the picture and the same
    ones reproduce it byte for byte, as the real model does. ``index`` is the image's
    place in an ``n > 1`` request: like the provider, the emulator does not say what
    seed those extra images get. Drawn at ~96 px and scaled up: smooth, and fast enough
    (~50 ms for 1024×1024).
    """
    settings = f"{look.steps}\x00{look.guidance!r}\x00{look.acceleration}"
    digest = hashlib.sha256(f"{prompt}\x00{seed}\x00{index}\x00{settings}".encode()).digest()
    long_side = 96
    small_w = max(2, round(long_side * width / max(width, height)))
    small_h = max(2, round(long_side * height / max(width, height)))
    hue = digest[0] / 255
    spread = 0.08 + digest[1] / 255 * 0.12

    def colour(h: float, s: float, v: float) -> tuple[int, int, int]:
        r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
        return round(r * 255), round(g * 255), round(b * 255)

    corners = [
        colour(
            hue + i * spread, 0.45 + digest[2 + i] / 255 * 0.3, 0.55 + digest[6 + i] / 255 * 0.35
        )
        for i in range(4)
    ]
    tiny = Image.new("RGB", (2, 2))
    tiny.putdata(corners)
    canvas = tiny.resize((small_w, small_h), Image.Resampling.BICUBIC).convert("RGBA")
    for k in range(5):
        overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
        x = digest[10 + k] / 255 * small_w
        y = digest[15 + k] / 255 * small_h
        r = (0.12 + digest[20 + k] / 255 * 0.25) * long_side
        fill = (*colour(hue + 0.5 + k * 0.07, 0.35, 0.95), 110 + digest[25 + k] % 90)
        ImageDraw.Draw(overlay).ellipse((x - r, y - r, x + r, y + r), fill=fill)
        canvas = Image.alpha_composite(canvas, overlay)
    canvas = canvas.filter(ImageFilter.GaussianBlur(long_side / 20)).convert("RGB")
    image = canvas.resize((width, height), Image.Resampling.BICUBIC)
    _caption(image, prompt, seed)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def _caption(image: Image.Image, prompt: str, seed: int) -> None:
    """The prompt and seed, small, bottom left, on a translucent pill."""
    width, height = image.size
    font_size = max(10, min(width, height) // 44)
    if min(width, height) < 4 * font_size:
        return
    font = ImageFont.load_default(size=font_size)
    draw = ImageDraw.Draw(image, "RGBA")
    pad = font_size // 2
    text = " ".join(prompt.split())
    label = f"{text}  ·  seed {seed}"
    while len(text) > 1 and draw.textlength(label, font=font) > width - 6 * pad:
        text = text[: max(1, len(text) - max(1, len(text) // 8))]
        label = f"{text.rstrip()}…  ·  seed {seed}"
    left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
    x0, y0 = pad, height - (bottom - top) - 3 * pad
    draw.rounded_rectangle(
        (x0, y0, x0 + (right - left) + 2 * pad, y0 + (bottom - top) + 2 * pad),
        radius=pad,
        fill=(0, 0, 0, 110),
    )
    draw.text((x0 + pad - left, y0 + pad - top), label, font=font, fill=(255, 255, 255, 235))
