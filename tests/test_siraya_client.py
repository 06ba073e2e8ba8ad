"""The image API client against the local emulator: happy paths, every fault, and the key.

Retries never sleep for real: ``FakeClock`` records each requested delay and moves
its own monotonic clock forward by it, so deadlines can be tested exactly.
"""

from __future__ import annotations

import logging
import random
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, TypeVar

import aiohttp
import pytest

from bot.siraya import (
    ApiTimeout,
    AuthError,
    BadRequest,
    ContentRefused,
    ErrorKind,
    GenerationRequest,
    InvalidRequest,
    InvalidResponse,
    OutOfCredit,
    RateLimited,
    RetryPolicy,
    SirayaClient,
    SirayaError,
    UpstreamError,
    create_session,
)
from bot.siraya.retry import parse_retry_after
from tests.emulators.siraya import Fault, SirayaEmulator

KEY = "sk-live-SECRET-7f3a9c1e5b2d4086"
WRONG_KEY = "sk-old-SECRET-00000000deadbeef"
MODEL = "flux-1-srpo-text-to-image"
PROMPT = "A cute baby sea otter."

E = TypeVar("E", bound=SirayaError)
MakeClient = Callable[..., SirayaClient]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay


class MaxJitter(random.Random):
    """Always picks the top of the jitter range, making the exponential caps visible."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.fixture(autouse=True)
def key_never_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    for secret in (KEY, WRONG_KEY):
        assert secret not in caplog.text
        for record in caplog.records:
            assert secret not in record.getMessage()


@pytest.fixture
async def emulator() -> AsyncIterator[SirayaEmulator]:
    async with SirayaEmulator(api_key=KEY) as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with create_session(connect_timeout=2, read_timeout=5) as opened:
        yield opened


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(
    emulator: SirayaEmulator, session: aiohttp.ClientSession, clock: FakeClock
) -> MakeClient:
    def make(**overrides: Any) -> SirayaClient:
        options: dict[str, Any] = {
            "api_key": KEY,
            "base_url": emulator.base_url,
            "model": MODEL,
            "sleep": clock.sleep,
            "monotonic": clock.monotonic,
            "rng": random.Random(0),
        }
        options.update(overrides)
        http = options.pop("session", session)
        return SirayaClient(http, **options)

    return make


async def fails_with(kind: type[E], outcome: Awaitable[object]) -> E:
    """Await ``outcome``, expect ``kind``, and check the error leaks no key anywhere."""
    with pytest.raises(kind) as caught:
        await outcome
    error = caught.value
    rendered = "".join(traceback.format_exception(error)) + repr(error) + str(error)
    for secret in (KEY, WRONG_KEY):
        assert secret not in rendered
        assert secret not in (error.api_message or "")
    return error


# -- success ------------------------------------------------------------------------------


async def test_generates_downloads_and_verifies_a_url_image(
    emulator: SirayaEmulator, make_client: MakeClient, clock: FakeClock
) -> None:
    client = make_client(base_url=emulator.base_url + "/")

    result = await client.generate(GenerationRequest(PROMPT, size="square", seed=123))

    [image] = result.images
    assert (image.format, image.width, image.height) == ("png", 512, 512)
    assert (image.mime, image.extension) == ("image/png", "png")
    assert image.data == await emulator.render(PROMPT, 123, 0, 512, 512)
    assert result.seed == 123
    assert result.attempts == 1
    assert result.api_seconds >= 0
    assert clock.sleeps == []
    assert client.retries_total == 0
    [sent] = emulator.requests
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.json == GenerationRequest(PROMPT, size="square", seed=123).to_payload(MODEL)
    assert emulator.image_downloads == 1
    # The image host is someone else: it must never see the API key.
    assert "Authorization" not in emulator.download_headers[0]


async def test_b64_json_images_are_decoded_without_a_download(
    emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    request = GenerationRequest(PROMPT, size="portrait_16_9", seed=9, output_format="b64_json")

    result = await make_client().generate(request)

    [image] = result.images
    assert (image.format, image.width, image.height) == ("png", 576, 1024)
    assert image.data == await emulator.render(PROMPT, 9, 0, 576, 1024)
    assert emulator.image_downloads == 0


async def test_four_images_in_one_request(
    emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    result = await make_client().generate(GenerationRequest(PROMPT, count=4, seed=1))

    assert len(result.images) == 4
    assert {(i.width, i.height) for i in result.images} == {(1024, 768)}
    assert len({i.data for i in result.images}) == 4  # four different pictures
    assert len(emulator.requests) == 1
    assert emulator.requests[0].json["n"] == 4
    assert emulator.image_downloads == 4


async def test_custom_size_is_sent_as_image_size(
    emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    result = await make_client().generate(GenerationRequest(PROMPT, width=800, height=640))

    body = emulator.requests[0].json
    assert body["image_size"] == {"width": 800, "height": 640}
    assert "size" not in body
    assert (result.images[0].width, result.images[0].height) == (800, 640)


async def test_same_seed_same_image_other_seed_other_image(make_client: MakeClient) -> None:
    client = make_client()

    first = await client.generate(GenerationRequest(PROMPT, seed=1))
    again = await client.generate(GenerationRequest(PROMPT, seed=1))
    other = await client.generate(GenerationRequest(PROMPT, seed=2))

    assert first.images[0].data == again.images[0].data
    assert first.images[0].data != other.images[0].data


async def test_without_a_seed_the_result_does_not_invent_one(make_client: MakeClient) -> None:
    result = await make_client().generate(GenerationRequest(PROMPT))

    assert result.seed is None  # the API does not report the seed it picked


async def test_invalid_request_is_refused_before_any_http(
    emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    with pytest.raises(InvalidRequest):
        await make_client().generate(GenerationRequest(PROMPT, count=9))

    assert emulator.requests == []


# -- retries ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 408])
async def test_transient_statuses_are_retried_and_counted(
    status: int,
    emulator: SirayaEmulator,
    make_client: MakeClient,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.fail_next(Fault.status(status))
    client = make_client()

    result = await client.generate(GenerationRequest(PROMPT, seed=1))

    assert len(result.images) == 1
    assert result.attempts == 2
    assert client.retries_total == 1
    assert len(emulator.requests) == 2
    assert len(clock.sleeps) == 1
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert str(status) in warning.getMessage()
    assert f"{clock.sleeps[0]:.2f} s" in warning.getMessage()


async def test_backoff_doubles_up_to_the_cap(
    emulator: SirayaEmulator, make_client: MakeClient, clock: FakeClock
) -> None:
    emulator.fail_next(*[Fault.status(503)] * 4)
    client = make_client(
        rng=MaxJitter(), retry=RetryPolicy(max_attempts=5, base_delay=1.5, max_delay=5)
    )

    await client.generate(GenerationRequest(PROMPT))

    assert clock.sleeps == [1.5, 3.0, 5.0, 5.0]


async def test_backoff_is_jittered_below_the_cap(
    emulator: SirayaEmulator, make_client: MakeClient, clock: FakeClock
) -> None:
    emulator.fail_next(*[Fault.status(502)] * 3)

    await make_client(rng=random.Random(7)).generate(GenerationRequest(PROMPT))

    caps = [1.0, 2.0, 4.0]
    assert all(0 <= delay <= cap for delay, cap in zip(clock.sleeps, caps, strict=True))
    assert clock.sleeps != caps  # full jitter, not a fixed schedule


@pytest.mark.parametrize(
    "fault", [Fault.rate_limited(retry_after=7), Fault.status(503, retry_after=7)]
)
async def test_retry_after_seconds_is_honoured(
    fault: Fault, emulator: SirayaEmulator, make_client: MakeClient, clock: FakeClock
) -> None:
    emulator.fail_next(fault)

    result = await make_client().generate(GenerationRequest(PROMPT))

    assert result.attempts == 2
    assert clock.sleeps == [7.0]  # the server's wait, not the (≤1 s) backoff


async def test_retry_after_http_date_is_honoured(
    emulator: SirayaEmulator, make_client: MakeClient, clock: FakeClock
) -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    emulator.fail_next(Fault.rate_limited(retry_after=format_datetime(when, usegmt=True)))

    await make_client().generate(GenerationRequest(PROMPT))

    [delay] = clock.sleeps
    assert 27 <= delay <= 31


async def test_persistent_rate_limit_gives_up_as_rate_limited(
    emulator: SirayaEmulator, make_client: MakeClient, clock: FakeClock
) -> None:
    emulator.fail_next(*[Fault.rate_limited(retry_after=1)] * 10)
    client = make_client()

    error = await fails_with(RateLimited, client.generate(GenerationRequest(PROMPT)))

    assert error.kind is ErrorKind.RATE_LIMITED
    assert error.status == 429
    assert error.attempts == 4
    assert len(emulator.requests) == 4
    assert len(clock.sleeps) == 3
    assert client.retries_total == 3


async def test_persistent_outage_gives_up_as_upstream_error(
    emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    emulator.fail_next(*[Fault.status(503)] * 10)

    error = await fails_with(UpstreamError, make_client().generate(GenerationRequest(PROMPT)))

    assert error.status == 503
    assert error.api_message == "No provider available."
    assert len(emulator.requests) == 4


async def test_dropped_connection_is_retried(
    emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    emulator.fail_next(Fault.drop_connection())

    result = await make_client().generate(GenerationRequest(PROMPT))

    assert result.attempts == 2
    assert len(result.images) == 1


async def test_connection_that_keeps_dropping_is_an_upstream_error(
    emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    emulator.fail_next(*[Fault.drop_connection()] * 4)

    error = await fails_with(UpstreamError, make_client().generate(GenerationRequest(PROMPT)))

    assert error.status is None
    assert len(emulator.requests) == 4


async def test_slow_answer_past_the_read_timeout_is_retried(
    emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    emulator.fail_next(Fault.slow(2))
    async with create_session(read_timeout=0.2) as impatient:
        result = await make_client(session=impatient).generate(GenerationRequest(PROMPT))

    assert result.attempts == 2


async def test_hanging_api_times_out_after_the_allowed_attempts(
    emulator: SirayaEmulator, make_client: MakeClient, clock: FakeClock
) -> None:
    emulator.fail_next(Fault.hang(), Fault.hang())
    started = time.monotonic()
    async with create_session(read_timeout=0.2) as impatient:
        client = make_client(session=impatient, retry=RetryPolicy(max_attempts=2))
        error = await fails_with(ApiTimeout, client.generate(GenerationRequest(PROMPT)))

    assert time.monotonic() - started < 2
    assert error.kind is ErrorKind.TIMEOUT
    assert len(emulator.requests) == 2
    assert len(clock.sleeps) == 1


async def test_overall_deadline_cuts_a_hanging_request(
    emulator: SirayaEmulator, make_client: MakeClient, clock: FakeClock
) -> None:
    emulator.fail_next(Fault.hang())
    started = time.monotonic()
    # The session would wait 5 s for data; the 0.3 s deadline must win.
    client = make_client(monotonic=time.monotonic, retry=RetryPolicy(deadline=0.3))

    error = await fails_with(ApiTimeout, client.generate(GenerationRequest(PROMPT)))

    assert time.monotonic() - started < 2
    assert "deadline" in str(error)
    assert len(emulator.requests) == 1
    assert clock.sleeps == []


async def test_never_sleeps_past_the_deadline_for_retry_after(
    emulator: SirayaEmulator, make_client: MakeClient, clock: FakeClock
) -> None:
    emulator.fail_next(Fault.rate_limited(retry_after=30))
    client = make_client(retry=RetryPolicy(deadline=10))

    await fails_with(RateLimited, client.generate(GenerationRequest(PROMPT)))

    assert clock.sleeps == []  # failing now beats failing after a pointless 10 s wait
    assert len(emulator.requests) == 1


async def test_backoff_stops_when_the_next_wait_would_pass_the_deadline(
    emulator: SirayaEmulator, make_client: MakeClient, clock: FakeClock
) -> None:
    emulator.fail_next(*[Fault.status(500)] * 10)
    client = make_client(
        rng=MaxJitter(),
        retry=RetryPolicy(max_attempts=10, base_delay=4, max_delay=100, deadline=20),
    )

    await fails_with(UpstreamError, client.generate(GenerationRequest(PROMPT)))

    assert clock.sleeps == [4, 8]  # a 16 s wait would end at 28 s > 20 s
    assert len(emulator.requests) == 3


# -- errors that must not be retried ------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequest),
        (401, AuthError),
        (402, OutOfCredit),
        (403, ContentRefused),
        (422, ContentRefused),
    ],
)
async def test_client_errors_are_not_retried(
    status: int,
    kind: type[SirayaError],
    emulator: SirayaEmulator,
    make_client: MakeClient,
    clock: FakeClock,
) -> None:
    emulator.fail_next(Fault.status(status, "Provider says no."))
    client = make_client()

    error = await fails_with(kind, client.generate(GenerationRequest(PROMPT)))

    assert error.status == status
    assert error.api_message == "Provider says no."
    assert len(emulator.requests) == 1
    assert clock.sleeps == []
    assert client.retries_total == 0


async def test_wrong_key_is_an_auth_error_and_the_echoed_key_is_scrubbed(
    emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    client = make_client(api_key=WRONG_KEY)

    error = await fails_with(AuthError, client.generate(GenerationRequest(PROMPT)))

    assert error.api_message == "Incorrect API key provided: [redacted]."
    assert len(emulator.requests) == 1


async def test_provider_validation_message_is_passed_on(
    emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    error = await fails_with(
        BadRequest, make_client(model="flux-2-pro").generate(GenerationRequest(PROMPT))
    )

    assert error.kind is ErrorKind.BAD_REQUEST
    assert error.api_message == "Model 'flux-2-pro' does not exist or is not available."


async def test_moderated_prompt_is_refused(
    emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    error = await fails_with(
        ContentRefused, make_client().generate(GenerationRequest("something Forbidden here"))
    )

    assert error.status == 422
    assert error.api_message == "Invalid prompt detected."


async def test_empty_account_is_out_of_credit(
    emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    emulator.credit = 3
    client = make_client()
    await client.generate(GenerationRequest(PROMPT, count=2))
    assert emulator.credit == 1

    error = await fails_with(OutOfCredit, client.generate(GenerationRequest(PROMPT, count=2)))

    assert error.kind is ErrorKind.OUT_OF_CREDIT


# -- broken successful answers ------------------------------------------------------------


@pytest.mark.parametrize("output_format", ["url", "b64_json"])
@pytest.mark.parametrize(
    "fault", [Fault.malformed_json(), Fault.empty_data(), Fault.not_an_image()]
)
async def test_unusable_answers_are_invalid_responses_and_not_regenerated(
    fault: Fault, output_format: str, emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    emulator.fail_next(fault)
    request = GenerationRequest(PROMPT, output_format=output_format)

    error = await fails_with(InvalidResponse, make_client().generate(request))

    assert error.kind is ErrorKind.BAD_RESPONSE
    assert len(emulator.requests) == 1  # each generation is billed: never ask twice


async def test_expired_image_url_is_an_invalid_response(
    emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    emulator.fail_next(Fault.image_404())

    error = await fails_with(InvalidResponse, make_client().generate(GenerationRequest(PROMPT)))

    assert error.status == 404
    assert len(emulator.requests) == 1
    assert emulator.image_downloads == 1


async def test_flaky_image_host_is_retried_without_regenerating(
    emulator: SirayaEmulator, make_client: MakeClient, clock: FakeClock
) -> None:
    emulator.fail_next(Fault.image_status(503))
    client = make_client()

    result = await client.generate(GenerationRequest(PROMPT, seed=4))

    assert result.images[0].data == await emulator.render(PROMPT, 4, 0, 1024, 768)
    assert len(emulator.requests) == 1
    assert emulator.image_downloads == 2
    assert client.retries_total == 1
    assert len(clock.sleeps) == 1


@pytest.mark.parametrize("chunked", [False, True])
async def test_oversize_download_is_refused_without_reading_it_all(
    chunked: bool, emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    size = 32 * 1024 * 1024
    emulator.fail_next(Fault.oversize_image(size, chunked=chunked))
    client = make_client(max_image_bytes=300_000)

    error = await fails_with(InvalidResponse, client.generate(GenerationRequest(PROMPT)))

    assert "300000-byte limit" in str(error)
    if not chunked:  # decided from Content-Length alone, before reading the body
        assert f"is {size} bytes" in str(error)
    await emulator.stop()  # lets the server finish (or abandon) its write
    if chunked:  # no Content-Length to go by: the client must hang up mid-stream
        assert emulator.oversize_bytes_sent < size


async def test_oversize_b64_image_is_refused(
    emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    emulator.fail_next(Fault.oversize_image(1_000_000))
    client = make_client(max_image_bytes=300_000)

    await fails_with(
        InvalidResponse, client.generate(GenerationRequest(PROMPT, output_format="b64_json"))
    )


async def test_image_exactly_at_the_cap_is_accepted(
    emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    emulator.fail_next(Fault.oversize_image(300_000))

    result = await make_client(max_image_bytes=300_000).generate(GenerationRequest(PROMPT))

    assert len(result.images[0].data) == 300_000


# -- secrets ------------------------------------------------------------------------------


def test_client_repr_hides_the_key(make_client: MakeClient) -> None:
    client = make_client()

    for text in (repr(client), str(client), repr(vars(client))):
        assert KEY not in text
    assert MODEL in repr(client)


def test_client_rejects_nonsense_configuration(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ValueError, match="api_key"):
        SirayaClient(session, api_key="", base_url="http://127.0.0.1/v1", model=MODEL)
    with pytest.raises(ValueError, match="base_url"):
        SirayaClient(session, api_key=KEY, base_url="image.siraya.pro/v1", model=MODEL)


# -- retry policy details -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("3", 3.0),
        (" 2.5 ", 2.5),
        ("-4", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # already past: no wait, not a negative one
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == expected


def test_retry_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(deadline=0)
