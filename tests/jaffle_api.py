"""A small "Jaffle orders API" on loopback for the API source tests, over data/sample/raw_orders.csv.

``GET /orders`` answers ``{"data": {"orders": [...]}, "meta": {"next_cursor": ...}, "links": {"next": ...}}``
with the orders whose ``updated_at`` is on or after ``updated_since``, ordered by it then id, paged by
``page``/``per_page``, ``offset``/``limit`` or ``cursor``/``limit``. Tests tell it to misbehave by setting
the counters of :class:`JaffleApi` (each failure is served that many times, then it behaves).
"""

from __future__ import annotations

import contextlib
import csv
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "raw_orders.csv"


def sample_orders(n: int) -> list[dict[str, Any]]:
    """The first ``n`` sample orders as the API sends them (cents as numbers, ``updated_at``)."""
    out = []
    with open(SAMPLE, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if len(out) == n:
                break
            money = {k: int(row[k]) for k in ("subtotal", "tax_paid", "order_total")}
            out.append({**row, **money, "updated_at": row["ordered_at"]})
    return out


class JaffleApi:
    """The server's data and behaviour (mutable by the test while it runs)."""

    def __init__(self, orders: list[dict[str, Any]], token: str = "") -> None:
        self.orders = orders
        self.token = token
        self.fail = 0  # answer 503 this many times
        self.rate_limit = 0  # answer 429 with Retry-After this many times
        self.retry_after = "1"
        self.slow = 0  # sleep `delay` seconds before answering, this many times
        self.delay = 2.0
        self.malformed = 0  # answer a truncated JSON body this many times
        self.status = 0  # answer this status always (e.g. 404), 0: off
        self.requests: list[dict[str, list[str]]] = []
        self.url = ""

    def select(self, query: dict[str, list[str]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        since = query.get("updated_since", [""])[0]
        rows = sorted(
            (o for o in self.orders if str(o["updated_at"]) >= since), key=lambda o: (o["updated_at"], o["id"])
        )
        meta: dict[str, Any] = {"next_cursor": None}
        links: dict[str, Any] = {"next": None}
        if "page" in query:
            size = int(query.get("per_page", ["10"])[0])
            start = (int(query["page"][0]) - 1) * size
            return rows[start : start + size], {"meta": meta, "links": links}
        size = int(query.get("limit", ["10"])[0])
        start = int(query.get("offset", query.get("cursor", ["0"]))[0])
        chunk = rows[start : start + size]
        if start + size < len(rows):
            meta["next_cursor"] = str(start + size)
            links["next"] = "/orders?" + urlencode({"offset": start + size, "limit": size, "updated_since": since})
        return chunk, {"meta": meta, "links": links}


class _Handler(BaseHTTPRequestHandler):
    api: JaffleApi

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def do_GET(self) -> None:  # http.server's name
        api = self.api
        parsed = urlparse(self.path)
        query = parse_qs(parsed.query)
        api.requests.append(query)
        if api.token and self.headers.get("Authorization") != f"Bearer {api.token}":
            return self._send(401, b'{"error": "unauthorized"}')
        if parsed.path != "/orders" or api.status:
            return self._send(api.status or 404, b'{"error": "not found"}')
        if api.slow:
            api.slow -= 1
            time.sleep(api.delay)
        if api.fail:
            api.fail -= 1
            return self._send(503, b'{"error": "try later"}')
        if api.rate_limit:
            api.rate_limit -= 1
            return self._send(429, b'{"error": "slow down"}', {"Retry-After": api.retry_after})
        rows, extra = api.select(query)
        body = json.dumps({"data": {"orders": rows}, **extra}).encode()
        if api.malformed:
            api.malformed -= 1
            body = body[: len(body) // 2]
        self._send(200, body)


@contextlib.contextmanager
def serve(orders: list[dict[str, Any]], token: str = "") -> Iterator[JaffleApi]:
    """Run the API on 127.0.0.1 (a free port) in a thread; ``api.url`` is its base URL."""
    api = JaffleApi(orders, token)
    handler = type("Handler", (_Handler,), {"api": api})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
