"""A threaded HTTP server on a free loopback port, for the stand-ins of remote REST APIs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread


@contextmanager
def loopback_server(
    make_handler: Callable[[str], type[BaseHTTPRequestHandler]],
) -> Iterator[str]:
    """Serve `make_handler(url)` until the block ends; yields the server's base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    server.RequestHandlerClass = make_handler(url)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
