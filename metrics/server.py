"""A worker's HTTP endpoints for its operators: `GET /metrics` (Prometheus' text format, from
the process' registry) and `GET /healthz` (the latest verdict as JSON; 200 when healthy, 503
naming each failing check when not).

    server = await MetricsServer.start(port, health=lambda: latest)
    ...
    await server.stop()
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from metrics.definitions import registry
from metrics.health import Health


class PortTaken(RuntimeError):
    """The metrics port cannot be served (another process has it, say)."""


class MetricsServer:
    """The running server."""

    def __init__(self, runner: web.AppRunner, port: int) -> None:
        self._runner = runner
        self.port = port

    @classmethod
    async def start(cls, port: int, health: Callable[[], Health], *,
                    host: str = "0.0.0.0") -> MetricsServer:  # all interfaces: scraped
        """Serve on `host:port`; `health()` gives the verdict `/healthz` reports."""

        async def metrics(_: web.Request) -> web.Response:
            return web.Response(body=generate_latest(registry),
                                headers={"Content-Type": CONTENT_TYPE_LATEST})

        async def healthz(_: web.Request) -> web.Response:
            verdict = health()
            return web.json_response(verdict.as_json(), status=200 if verdict.ok else 503)

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        app.router.add_get("/healthz", healthz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as e:
            await runner.cleanup()
            raise PortTaken(f"cannot serve /metrics and /healthz on {host}:{port} "
                            f"(KEEPERNET_METRICS_PORT): {e.strerror or e}") from None
        except BaseException:
            await runner.cleanup()
            raise
        return cls(runner, port)

    async def stop(self) -> None:
        await self._runner.cleanup()
