"""The image API client against the local emulator: happy paths, every fault, and the key.

Retries never sleep for real: ``FakeClock`` records each requested delay and moves
its own monotonic clock forward by it, so deadlines can be tested exactly.
"""

from __future__ import annotations

import logging
import random
import socket
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from bot.imaging import run_decoder
from bot.looplag import LoopLagMonitor
from bot.siraya import (
    ApiTimeout,
    AuthError,
    BadRequest,
    ContentRefused,
    ErrorKind,
    GenerationRequest,
    GuardedResolver,
    ImageOrigins,
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
from bot.siraya.origins import AddressRefused, OriginRefused
from bot.siraya.retry import parse_retry_after
from tests.emulators import crafted
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


@pytest.mark.parametrize("output_format", ["url", "b64_json"])
async def test_a_200_answer_that_breaks_off_is_not_posted_again(
    output_format: str, emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    # The provider generated and billed the images before the body broke: asking again
    # would pay twice for one result.
    emulator.fail_next(Fault.cut_answer())
    request = GenerationRequest(PROMPT, output_format=output_format)

    error = await fails_with(InvalidResponse, make_client().generate(request))

    assert "broke off" in str(error)
    assert error.status == 200
    assert len(emulator.requests) == 1


async def test_a_200_answer_too_slow_to_read_is_not_posted_again(
    emulator: SirayaEmulator, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def stalls(*args: object) -> bytes:
        raise aiohttp.ServerTimeoutError("Timeout on reading data from socket")

    monkeypatch.setattr("bot.siraya.client._read_capped", stalls)

    await fails_with(InvalidResponse, make_client().generate(GenerationRequest(PROMPT)))

    assert len(emulator.requests) == 1


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


# -- a hostile image service: where images come from ---------------------------------------


class FakeDNS(AbstractResolver):
    """Answers from a table, like a DNS server the attacker controls."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in self.table[host]
        ]

    async def close(self) -> None:
        return None


def refusal_logged(caplog: pytest.LogCaptureFixture, host: str) -> str:
    [line] = [r.getMessage() for r in caplog.records if "Refused to download" in r.getMessage()]
    assert f"from {host}:" in line or f"from {host} " in line
    assert "/image/" not in line, "the owner's log names the host, never the path or query"
    return line


@pytest.mark.parametrize("output_format", ["url", "b64_json"])
async def test_image_on_a_foreign_host_is_refused_without_fetching_it(
    output_format: str,
    emulator: SirayaEmulator,
    make_client: MakeClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # "localhost" reaches the same emulator, but it is not the API's origin nor listed.
    emulator.fail_next(Fault.image_at(f"http://localhost:{emulator.port}"))
    request = GenerationRequest(PROMPT, output_format=output_format)

    error = await fails_with(InvalidResponse, make_client().generate(request))

    assert "not a usable image" in str(error)
    assert emulator.image_downloads == 0
    assert len(emulator.requests) == 1, "refused, not regenerated"
    line = refusal_logged(caplog, "localhost")
    assert "SIRAYA_IMAGE_HOSTS" in line


async def test_a_host_the_owner_lists_is_allowed(
    emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    emulator.fail_next(Fault.image_at(f"http://localhost:{emulator.port}"))
    origins = ImageOrigins(emulator.base_url, [f"localhost:{emulator.port}"])

    result = await make_client(origins=origins).generate(GenerationRequest(PROMPT, seed=5))

    assert result.images[0].data == await emulator.render(PROMPT, 5, 0, 1024, 768)
    assert emulator.download_headers[0]["Host"] == f"localhost:{emulator.port}"


@pytest.mark.parametrize(
    ("origin", "listed"),
    [
        pytest.param("http://user:secret@{api}", (), id="credentials-in-url"),
        pytest.param("http://169.254.169.254", ("169.254.169.254",), id="link-local-listed"),
        pytest.param("http://10.0.0.7", ("10.0.0.7",), id="private-listed"),
        pytest.param("http://169.254.169.254", (), id="metadata-service"),
        pytest.param("ftp://{api}", (), id="not-http"),
    ],
)
async def test_urls_the_bot_never_fetches(
    origin: str,
    listed: tuple[str, ...],
    emulator: SirayaEmulator,
    make_client: MakeClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.fail_next(Fault.image_at(origin.format(api=f"127.0.0.1:{emulator.port}")))
    client = make_client(origins=ImageOrigins(emulator.base_url, listed))

    error = await fails_with(InvalidResponse, client.generate(GenerationRequest(PROMPT)))

    assert "refused host" in str(error)
    assert emulator.image_downloads == 0
    assert client.retries_total == 0, "refused at once: no connection attempted, none retried"
    assert "secret" not in caplog.text


async def test_a_redirect_off_the_allowed_hosts_is_refused(
    emulator: SirayaEmulator, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.fail_next(Fault.redirect(f"http://localhost:{emulator.port}"))

    await fails_with(InvalidResponse, make_client().generate(GenerationRequest(PROMPT)))

    assert emulator.redirects_served == 1
    assert emulator.image_downloads == 0, "the hop off the API's origin was never made"
    refusal_logged(caplog, "localhost")


async def test_redirects_on_the_allowed_hosts_are_followed_a_few_times(
    emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    emulator.fail_next(Fault.redirect(hops=3, code=307), Fault.redirect(hops=4))
    client = make_client()

    result = await client.generate(GenerationRequest(PROMPT, seed=6))
    assert result.images[0].data == await emulator.render(PROMPT, 6, 0, 1024, 768)
    assert (emulator.redirects_served, emulator.image_downloads) == (3, 1)

    error = await fails_with(InvalidResponse, client.generate(GenerationRequest(PROMPT)))
    assert "redirected more than 3 times" in str(error)


async def test_a_name_that_resolves_to_loopback_is_refused(
    emulator: SirayaEmulator, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # The API is reached by name here, so loopback is not "where the API lives"; the
    # listed image host passes the name check but its DNS answer rebinds to 127.0.0.1.
    api = f"http://api.test:{emulator.port}/v1"
    origins = ImageOrigins(api, [f"images.test:{emulator.port}"])
    dns = FakeDNS({"api.test": ["127.0.0.1"], "images.test": ["127.0.0.1"]})
    emulator.fail_next(Fault.image_at(f"http://images.test:{emulator.port}"))
    async with create_session(
        connect_timeout=2, read_timeout=5, origins=origins, resolver=dns
    ) as http:
        client = SirayaClient(
            http,
            api_key=KEY,
            base_url=api,
            model=MODEL,
            origins=origins,
            sleep=clock.sleep,
            monotonic=clock.monotonic,
        )

        error = await fails_with(InvalidResponse, client.generate(GenerationRequest(PROMPT)))

    assert "loopback" in str(error)
    assert dns.asked == ["api.test", "images.test"]
    assert emulator.image_downloads == 0
    assert client.retries_total == 0
    refusal_logged(caplog, "images.test")


async def test_guarded_resolver_refuses_any_bad_address_in_an_answer() -> None:
    origins = ImageOrigins("https://image.siraya.pro/v1")
    dns = FakeDNS(
        {
            "resource.siraya.pro": ["93.184.216.34", "127.0.0.1"],  # rebinding: mixed answer
            "image.siraya.pro": ["10.1.2.3"],  # the API itself: the owner's choice
            "mapped.test": ["::ffff:169.254.169.254"],
        }
    )
    resolver = GuardedResolver(origins, dns)

    with pytest.raises(AddressRefused, match="loopback"):
        await resolver.resolve("resource.siraya.pro", 443)
    assert [r["host"] for r in await resolver.resolve("image.siraya.pro", 443)] == ["10.1.2.3"]
    with pytest.raises(AddressRefused, match="link-local"):
        await resolver.resolve("mapped.test", 443)


@pytest.mark.parametrize(
    ("api", "url", "allowed"),
    [
        ("https://image.siraya.pro/v1", "https://resource.siraya.pro/image/a.png", True),
        ("https://image.siraya.pro/v1", "https://RESOURCE.siraya.pro./image/a.png", True),
        ("https://image.siraya.pro/v1", "https://image.siraya.pro/files/a.png", True),
        ("https://image.siraya.pro/v1", "http://resource.siraya.pro/image/a.png", False),
        ("https://image.siraya.pro/v1", "https://resource.siraya.pro:8443/a.png", False),
        ("https://image.siraya.pro/v1", "https://evil.example/a.png", False),
        ("https://image.siraya.pro/v1", "https://resource.siraya.pro.evil.example/a", False),
        ("https://image.siraya.pro/v1", "https://u:p@resource.siraya.pro/a.png", False),
        ("https://image.siraya.pro/v1", "https://127.0.0.1/a.png", False),
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/image/a.png", True),
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:9090/image/a.png", False),
        ("http://127.0.0.1:8080/v1", "http://resource.siraya.pro/image/a.png", True),
        ("http://localhost:8080/v1", "http://localhost:8080/a.png", True),
    ],
)
def test_image_origins(api: str, url: str, allowed: bool) -> None:
    origins = ImageOrigins(api)
    if allowed:
        origins.check(URL(url))
    else:
        with pytest.raises(OriginRefused):
            origins.check(URL(url))


# -- a hostile image service: what it sends --------------------------------------------------


@pytest.mark.parametrize("output_format", ["url", "b64_json"])
@pytest.mark.parametrize(
    ("craft", "reason"),
    [
        pytest.param(lambda: crafted.wrong_size(640, 480), "not the 1024×768", id="wrong-size"),
        pytest.param(lambda: crafted.pixel_bomb(), "not the 1024×768", id="pixel-bomb"),
        pytest.param(lambda: crafted.text_bomb(1024, 768), "a bomb", id="ztxt-bomb"),
        pytest.param(lambda: crafted.itxt_bomb(1024, 768), "a bomb", id="itxt-bomb"),
        pytest.param(lambda: crafted.overflowing_pixels(1024, 768), "a bomb", id="idat-bomb"),
        pytest.param(lambda: crafted.cut_pixels(1024, 768), "cut short", id="pixels-cut"),
        pytest.param(lambda: crafted.animated_png(1024, 768), "animated", id="animated"),
        pytest.param(lambda: crafted.many_scans_jpeg(1024, 768), "scans", id="jpeg-scans"),
    ],
)
async def test_crafted_files_are_not_usable_images(
    craft: Callable[[], bytes],
    reason: str,
    output_format: str,
    emulator: SirayaEmulator,
    make_client: MakeClient,
) -> None:
    emulator.fail_next(Fault.crafted(craft()))
    request = GenerationRequest(PROMPT, output_format=output_format)

    error = await fails_with(InvalidResponse, make_client().generate(request))

    assert "not a usable image" in str(error)
    assert reason in str(error)
    assert len(emulator.requests) == 1


@pytest.mark.parametrize(
    "craft",
    [
        pytest.param(lambda: crafted.jpeg_segment_flood(1024, 768), id="empty-segments"),
        pytest.param(lambda: crafted.jpeg_fill_flood(1024, 768), id="fill-bytes"),
    ],
)
async def test_a_10_mb_hostile_jpeg_header_never_stalls_the_event_loop(
    craft: Callable[[], bytes], emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    data = craft()
    assert len(data) >= 10_000_000
    emulator.fail_next(Fault.crafted(data))
    lags: list[float] = []
    monitor = LoopLagMonitor(lags.append, interval=0.005)
    monitor.start()
    try:
        error = await fails_with(InvalidResponse, make_client().generate(GenerationRequest(PROMPT)))
    finally:
        await monitor.stop()

    assert "not a usable image" in str(error)
    assert lags  # the monitor ran while the file was handled
    # Walking 2.5 M segments on the loop held it for seconds; the bounded walk, in the
    # pool, never shows (the rest is the emulator and the 10 MB download, on this loop).
    assert max(lags) < 0.5


async def test_a_slightly_rounded_size_is_accepted(
    emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    emulator.fail_next(Fault.crafted(crafted.wrong_size(1024, 760)))

    result = await make_client().generate(GenerationRequest(PROMPT))

    assert (result.images[0].width, result.images[0].height) == (1024, 760)


@pytest.mark.parametrize("entries", [20, 5000])
async def test_an_absurd_number_of_entries_is_refused(
    entries: int, emulator: SirayaEmulator, make_client: MakeClient
) -> None:
    emulator.fail_next(Fault.many_entries(entries))

    error = await fails_with(InvalidResponse, make_client().generate(GenerationRequest(PROMPT)))

    assert "absurd" in str(error)
    assert emulator.image_downloads == 0


async def test_big_answers_are_parsed_and_decoded_in_the_bounded_pool(
    emulator: SirayaEmulator, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    offloaded: list[str] = []

    async def recording(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        offloaded.append(getattr(fn, "__name__", repr(fn)))
        return await run_decoder(fn, *args, **kwargs)

    monkeypatch.setattr("bot.siraya.client.run_decoder", recording)
    emulator.fail_next(Fault.oversize_image(1_000_000))  # a real PNG, padded to 1 MB
    request = GenerationRequest(PROMPT, output_format="b64_json")

    result = await make_client().generate(request)

    assert len(result.images[0].data) > 256 * 1024  # big enough to matter on the loop
    assert offloaded == ["_parse_json_object", "b64decode", "verify"]


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
