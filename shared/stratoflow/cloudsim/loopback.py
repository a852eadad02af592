"""A moto server on loopback: for what must reach the simulated AWS over HTTP from outside this
process's mock (a sandbox process's presigned URLs, the AWS CLI), over the same in-process state."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def loopback_moto() -> Iterator[str]:
    """A moto server on 127.0.0.1 at a free port while the block runs; yields its endpoint URL."""
    # Deferred: the server needs moto's `server` extra (Flask), which only these paths use.
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
