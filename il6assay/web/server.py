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


@dataclass
class RunningServer:
    """A server started in a thread (tests, embedding): its URL and how to stop it."""

    url: str
    stop: Callable[[], None]


def _server(app: Any, host: str, port: int, *, https: bool) -> Any:
    from waitress import create_server

    # waitress logs no request lines (so no URL or form field reaches a log).
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    return create_server(
        app, host=host, port=port, threads=THREADS, url_scheme="https" if https else "http"
    )


def serve(app: Any, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, https: bool = False):
    """Serve ``app`` until interrupted (Ctrl-C)."""
    server = _server(app, host, port, https=https)
    try:
        server.run()
    finally:
        server.close()


def start_in_thread(app: Any, host: str = DEFAULT_HOST, port: int = 0) -> RunningServer:
    """Start serving ``app`` on a free port in a background thread; returns its URL and stop."""
    server = _server(app, host, port, https=False)
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
