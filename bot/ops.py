"""The bot's side channels for its operator: the health file, ``/metrics`` and ``/ready``.

Both are optional and independent: HEALTH_FILE turns on the file Docker's HEALTHCHECK
reads, METRICS_PORT turns on one small HTTP server with Prometheus metrics and a
readiness endpoint (200 when connected to Discord with a usable database, 503
otherwise). The bot builds an :class:`Operations` before it starts, starts it once its
database is open and stops it first when it closes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from bot.health import HealthFileWriter, HealthProbe
from bot.metrics import CONTENT_TYPE, REGISTRY, Metrics

log = logging.getLogger(__name__)


class OperationsError(Exception):
    """The metrics server could not start. ``str()`` is the one line shown to the owner."""


def metrics_app(probe: HealthProbe, registry: Metrics) -> web.Application:
    """``GET /metrics`` (Prometheus text) and ``GET /ready`` (200 or 503, one line of text)."""

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=registry.render().encode(), headers={"Content-Type": CONTENT_TYPE})

    async def ready(_: web.Request) -> web.Response:
        status = await probe.check()
        if status.healthy:
            return web.Response(text="ready\n")
        return web.Response(status=503, text="not ready: " + " and ".join(status.problems()) + "\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/ready", ready)
    return app


class Operations:
    """Starts and stops whatever of the health file and the metrics server is configured."""

    def __init__(
        self,
        probe: HealthProbe,
        *,
        health_file: Path | None = None,
        metrics_port: int | None = None,
        metrics_host: str = "127.0.0.1",
        api_retries: Callable[[], int] | None = None,
        registry: Metrics = REGISTRY,
    ) -> None:
        self.probe = probe
        self.health = HealthFileWriter(health_file, probe) if health_file is not None else None
        self._metrics_port = metrics_port
        self._metrics_host = metrics_host
        self._api_retries = api_retries
        self._registry = registry
        self._runner: web.AppRunner | None = None
        self._unwatch: Callable[[], None] | None = None
        self.port: int | None = None
        """The port ``/metrics`` listens on once started (differs from 0 when 0 was asked)."""

    @classmethod
    def create(
        cls,
        *,
        health_file: Path | None,
        metrics_port: int | None,
        metrics_host: str,
        connected: Callable[[], bool],
        store_probe: Callable[[], Awaitable[object]],
        api_retries: Callable[[], int] | None = None,
    ) -> Operations:
        """What the bot calls: plain callables in, no knowledge of discord.py needed here."""
        return cls(
            HealthProbe(connected, store_probe),
            health_file=health_file,
            metrics_port=metrics_port,
            metrics_host=metrics_host,
            api_retries=api_retries,
        )

    async def start(self) -> None:
        """Start what is configured; raises :class:`OperationsError` if the port is taken."""
        if self._api_retries is not None and self._unwatch is None:
            self._unwatch = self._registry.watch_api_retries(self._api_retries)
        if self._metrics_port is not None and self._runner is None:
            await self._start_server(self._metrics_port)
        if self.health is not None:
            await self.health.start()

    async def _start_server(self, port: int) -> None:
        # access_log=None: a Prometheus scrape every 15 s must not fill the bot's log.
        runner = web.AppRunner(metrics_app(self.probe, self._registry), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._metrics_host, port)
        try:
            await site.start()
        except OSError as error:
            await runner.cleanup()
            raise OperationsError(
                f"cannot serve metrics on {self._metrics_host}:{port} (METRICS_PORT): "
                f"{error.strerror or error}"
            ) from None
        self._runner = runner
        self.port = int(runner.addresses[0][1]) if runner.addresses else port
        log.debug(
            "metrics on http://%s:%d/metrics, readiness on /ready", self._metrics_host, self.port
        )

    async def stop(self) -> None:
        """Idempotent; safe to call when ``start`` never ran or failed half-way."""
        if self.health is not None:
            await self.health.stop()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
            self.port = None
        if self._unwatch is not None:
            unwatch, self._unwatch = self._unwatch, None
            unwatch()
