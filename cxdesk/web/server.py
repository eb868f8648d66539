"""Running the app on uvicorn, at HOST:PORT.

uvicorn's own access log and logging setup are off: requests are logged by `AccessLog`, to
the log cxdesk's config names, and uvicorn's lines would quote raw paths.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from cxdesk.errors import ConfigError

GRACE_SECONDS = 10  # on SIGTERM or ctrl+c, requests under way get this long to finish


def split_listen(listen: str) -> tuple[str, int]:
    """`127.0.0.1:8080` or `[::1]:8080` → host and port."""
    host, _, port = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"--listen: {listen!r} is not HOST:PORT (e.g. 127.0.0.1:8080)")
    return host, int(port)


class StoppableServer(uvicorn.Server):
    """uvicorn's server, for which SIGTERM or ctrl+c is the end of a clean run (exit 0, as
    for `watch`): uvicorn raises the signal again once it has shut down, which killed the
    process by SIGTERM or ended it as an interrupted command."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()  # the shutdown they asked for is done


def server(app: ASGIApp, listen: str) -> uvicorn.Server:
    host, port = split_listen(listen)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http="h11",
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=GRACE_SECONDS,
    )
    return StoppableServer(config)
