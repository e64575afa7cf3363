"""POSTing callbacks: one kept-alive connection per destination per delivery thread."""

from __future__ import annotations

import http.client
import threading
from urllib.parse import urlsplit

from sandbox.delivery.envelope import USER_AGENT


class Transport:
    """Per-thread connection cache; `post()` returns the HTTP status (or raises on a network failure)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._local = threading.local()

    def post(self, destination: str, body: bytes, headers: dict[str, str]) -> int:
        """POST on this thread's kept-alive connection to the destination; the HTTP status.

        http.client rather than requests: a storm of thousands of callbacks is CPU-bound in the sandbox
        process, and proxies from the environment must never see loopback traffic.
        """
        parts = urlsplit(destination)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"unsupported destination {destination!r}")
        key = (parts.scheme, parts.hostname, parts.port)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connections: dict[tuple, http.client.HTTPConnection] = self._local.__dict__.setdefault(
            "connections", {}
        )
        for _ in range(2):
            conn = connections.pop(key, None)
            reused = conn is not None
            if conn is None:
                if parts.scheme == "https":
                    conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=self.timeout)
                else:
                    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
            try:
                conn.request("POST", path, body=body, headers={"User-Agent": USER_AGENT, **headers})
                response = conn.getresponse()
                response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                if reused:  # a kept-alive connection the destination had closed: once more, afresh
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            if response.will_close:
                conn.close()
            else:
                connections[key] = conn
            return response.status
        raise ConnectionError("destination closed the connection")

    def close_thread_connections(self) -> None:
        """Close the calling thread's connections (a worker thread ending)."""
        for conn in self._local.__dict__.pop("connections", {}).values():
            conn.close()
