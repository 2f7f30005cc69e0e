"""Serving the review app with waitress, a production WSGI server (pure Python, any OS)."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
THREADS = 8
PROXY = "127.0.0.1"  # with --https, the reverse proxy's address (on the same PC)


@dataclass
class RunningServer:
    """A server started in a thread (tests, embedding): its URL and how to stop it."""

    url: str
    stop: Callable[[], None]


def _server(app: Any, host: str, port: int, *, https: bool) -> Any:
    from waitress import create_server

    # waitress logs no request lines (so no URL or form field reaches a log).
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    proxy: dict[str, Any] = {}
    if https:  # behind the lab's https proxy on this PC: the client is who it forwards
        proxy = {
            "trusted_proxy": PROXY,
            "trusted_proxy_count": 1,
            "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"},
        }
    return create_server(
        app,
        host=host,
        port=port,
        threads=THREADS,
        url_scheme="https" if https else "http",
        **proxy,
    )


def serve(app: Any, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, https: bool = False):
    """Serve ``app`` until interrupted (Ctrl-C)."""
    server = _server(app, host, port, https=https)
    try:
        server.run()
    finally:
        server.close()


def start_in_thread(
    app: Any, host: str = DEFAULT_HOST, port: int = 0, *, https: bool = False
) -> RunningServer:
    """Start serving ``app`` on a free port in a background thread; returns its URL and stop."""
    server = _server(app, host, port, https=https)
    thread = threading.Thread(target=server.run, name="il6assay-web", daemon=True)
    thread.start()
    bound = server.effective_port

    stopped = threading.Event()

    def stop() -> None:
        def close_all() -> None:  # runs in the server's own loop thread
            for dispatcher in list(server._map.values()):
                dispatcher.close()

        if stopped.is_set():
            return
        stopped.set()
        with contextlib.suppress(OSError):  # the loop already closed its trigger: nothing left
            server.trigger.pull_trigger(close_all)
        thread.join(timeout=10)
        server.task_dispatcher.shutdown()

    return RunningServer(url=f"http://{host}:{bound}", stop=stop)
