"""A closed-loop HTTP load generator for the ingest benchmark, run as its own process:

    python -m bench.loadgen --port P --concurrency 8 --duration 10 --warmup 2 --count 40000

It first builds `count` signed BigCommerce callbacks (distinct webhook-ids, fresh timestamps, the
X-Webhook-Secret header, exactly what the sandbox's hook dispatcher sends) as raw HTTP/1.1 request
bytes, then keeps `concurrency` connections busy from one thread with `selectors`: each connection sends
a request, waits for the whole answer, sends the next (keep-alive when the server allows it; a new
connection when it answers `Connection: close`). Every request is used once. Only answers that start
and end inside the measured window (after the warm-up) count. Prints one JSON object on stdout.

One process on a non-blocking loop costs the machine far less CPU per request than threads with
http.client, so on a 2-core box the server, not the generator, is what gets measured. Both endpoints
(the real receiver and the bare Flask app) get the same bytes and are measured the same way.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import selectors
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sandbox.delivery import data_hash, store_id_for
from workers import settings as S

PATH = "/webhooks/bigcommerce"
SCOPES = (  # a catalogue mix like a busy day's: product edits, variant edits, stock moves
    ("store/product/updated", 0.6),
    ("store/sku/updated", 0.2),
    ("store/product/inventory/updated", 0.2),
)


def callback(scope: str, product_id: int, store_hash: str) -> dict:
    if scope.startswith("store/sku/"):
        variant_id = product_id * 10 + 1
        sku = {"product_id": product_id, "variant_id": variant_id}
        data: dict = {"type": "sku", "id": variant_id, "sku": sku}
    elif scope == "store/product/inventory/updated":
        data = {
            "type": "product",
            "id": product_id,
            "inventory": {"product_id": product_id, "method": "absolute", "value": 5},
        }
    else:
        data = {"type": "product", "id": product_id}
    return {
        "scope": scope,
        "store_id": store_id_for(store_hash),
        "data": data,
        "hash": data_hash(data),
        "created_at": int(time.time()),
        "producer": f"stores/{store_hash}",
    }


def signed_requests(
    count: int,
    host: str,
    port: int,
    products: int = 2000,
    seed: int = 1,
    store_hash: str = S.SANDBOX_STORE_HASH,
    client_secret: str = S.SANDBOX_CLIENT_SECRET,
    webhook_secret: str = S.SANDBOX_WEBHOOK_SECRET,
) -> list[bytes]:
    """`count` raw POST requests, each signed (Standard Webhooks, key = base64 of the client secret)."""
    from standardwebhooks import Webhook

    signer = Webhook(base64.b64encode(client_secret.encode()).decode())
    rng = random.Random(seed)
    scopes, weights = zip(*SCOPES, strict=True)
    now = datetime.now(UTC)
    out = []
    for _ in range(count):
        body = json.dumps(
            callback(rng.choices(scopes, weights)[0], rng.randint(1, products), store_hash),
            separators=(",", ":"),
        )
        message_id = f"msg_{uuid.uuid4().hex}"
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: bcsync-bench\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Webhook-Secret: {webhook_secret}\r\nwebhook-id: {message_id}\r\n"
            f"webhook-timestamp: {int(now.timestamp())}\r\n"
            f"webhook-signature: {signer.sign(message_id, now, body)}\r\n\r\n"
        )
        out.append(head.encode() + body.encode())
    return out


@dataclass
class _Conn:
    sock: socket.socket
    buf: bytearray = field(default_factory=bytearray)
    started: float = 0.0


def _parse(buf: bytearray) -> tuple[int, int, bool] | None:
    """(status, total length, close) once a whole answer is in `buf`; None while incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(buf[:end]).split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, close = 0, lines[0].startswith(b"HTTP/1.0")
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"connection":
            close = value.strip().lower() == b"close"
    total = end + 4 + length
    return (status, total, close) if len(buf) >= total else None


def run(
    host: str, port: int, requests: list[bytes], concurrency: int, duration: float, warmup: float
) -> dict:
    sel = selectors.DefaultSelector()
    pending = iter(requests)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = {"connection": 0}
    t_begin = time.perf_counter()
    t_measure, t_end = t_begin + warmup, t_begin + warmup + duration
    in_flight = 0
    exhausted = False
    last_done = t_measure

    def connect() -> _Conn:
        sock = socket.create_connection((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        return _Conn(sock)

    def send(conn: _Conn) -> bool:
        nonlocal in_flight, exhausted
        request = next(pending, None)
        if request is None:
            exhausted = True
            return False
        conn.buf.clear()
        conn.started = time.perf_counter()
        conn.sock.setblocking(True)  # a request of < 1 KiB on loopback: one send
        conn.sock.sendall(request)
        conn.sock.setblocking(False)
        sel.register(conn.sock, selectors.EVENT_READ, conn)
        in_flight += 1
        return True

    for _ in range(concurrency):
        send(connect())
    while in_flight:
        now = time.perf_counter()
        if now > t_end + 10:  # answers stuck well after the end: give up on them
            errors["stuck"] = in_flight
            break
        for key, _mask in sel.select(timeout=0.5):
            conn: _Conn = key.data
            try:
                chunk = conn.sock.recv(65536)
            except (ConnectionResetError, BlockingIOError):
                chunk = b""
            if chunk:
                conn.buf += chunk
                parsed = _parse(conn.buf)
                if parsed is None:
                    continue
            else:
                parsed = None
            sel.unregister(conn.sock)
            in_flight -= 1
            done = time.perf_counter()
            if parsed is None:  # closed before answering
                conn.sock.close()
                if conn.started >= t_measure and done <= t_end:
                    errors["connection"] += 1
                conn = connect()
            else:
                status, _total, close = parsed
                if conn.started >= t_measure and done <= t_end:
                    latencies.append(done - conn.started)
                    statuses[str(status)] = statuses.get(str(status), 0) + 1
                if close:
                    conn.sock.close()
                    conn = connect()
            if conn.started >= t_measure and done <= t_end:
                last_done = done
            if not (done < t_end and not exhausted and send(conn)):
                conn.sock.close()
    # ran out of requests early: the window ended with the last answer counted
    measured = (last_done if exhausted else t_end) - t_measure
    return {
        "latencies": latencies,
        "statuses": statuses,
        "errors": errors,
        "seconds": measured,
        "ran_out": exhausted,
    }


def summarise(raw: dict) -> dict:
    from bench.common import percentile

    lat = raw["latencies"]
    ok = sum(n for s, n in raw["statuses"].items() if s.startswith("2"))
    total = sum(raw["statuses"].values())
    return {
        "requests": total,
        "seconds": round(raw["seconds"], 3),
        "per_second": round(total / raw["seconds"], 1) if raw["seconds"] > 0 else 0.0,
        "p50_ms": round(percentile(lat, 50) * 1000, 2),
        "p99_ms": round(percentile(lat, 99) * 1000, 2),
        "max_ms": round(max(lat, default=float("nan")) * 1000, 2),
        "non_2xx": total - ok + sum(raw["errors"].values()),
        "statuses": raw["statuses"],
        "errors": raw["errors"],
        "ran_out": raw["ran_out"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--count", type=int, default=40_000)
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    requests = signed_requests(args.count, args.host, args.port, args.products, args.seed)
    raw = run(args.host, args.port, requests, args.concurrency, args.duration, args.warmup)
    print(json.dumps(summarise(raw)))


if __name__ == "__main__":
    main()
