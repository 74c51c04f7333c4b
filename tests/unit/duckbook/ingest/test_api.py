"""The API poller against a real HTTP server on loopback (tests/jaffle_api.py): pagination, the
watermark, retries, 429 Retry-After, time bound, 4xx, malformed JSON, crash between page and state."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from duckbook.ingest import api, pages
from duckbook.ingest.api_spec import ApiDeclarationError
from duckbook.ingest.contracts import parse_contracts
from tests.jaffle_api import sample_orders, serve

TOKEN = "s3cr3t-t0ken-value"
COLUMNS = {
    "id": {"type": "string"},
    "customer": {"type": "string", "nullable": False},
    "ordered_at": {"type": "timestamp"},
    "order_total": {"type": "int64"},
    "updated_at": {"type": "timestamp"},
}


def contract(url: str, pagination: dict | None = None, **api_settings):
    spec = {
        "base_url": "${TEST_JAFFLE_API_URL:-" + url + "}",
        "endpoint": "/orders",
        "records": "data.orders",
        "pagination": pagination or {"type": "page", "param": "page", "size_param": "per_page", "size": 10},
        "watermark": {"param": "updated_since", "field": "updated_at"},
        "auth": {"bearer_env": "TEST_JAFFLE_TOKEN"},
        "max_seconds": 20,
        **api_settings,
    }
    sources = {"api_orders": {"api": spec, "primary_key": ["id"], "columns": COLUMNS}}
    return parse_contracts(sources, origin="test.yml")["api_orders"]


def landed_ids(folder: Path) -> list[str]:
    return [json.loads(line)["id"] for p in api.page_files(folder) for line in p.read_text().splitlines()]


@pytest.fixture(autouse=True)
def token(monkeypatch):
    monkeypatch.setenv("TEST_JAFFLE_TOKEN", TOKEN)


@pytest.mark.parametrize(
    "pagination",
    [
        {"type": "page", "param": "page", "size_param": "per_page", "size": 10},
        {"type": "offset", "param": "offset", "size_param": "limit", "size": 10},
        {"type": "cursor", "param": "cursor", "next": "meta.next_cursor"},
        {"type": "next_link", "next": "links.next"},
    ],
    ids=lambda p: p["type"],
)
def test_every_pagination_lands_every_record_once_per_page_file(tmp_path, pagination):
    orders = sample_orders(25)
    with serve(orders, TOKEN) as server:
        polled = api.poll(contract(server.url, pagination, params={"limit": "10"}), tmp_path)
    assert polled.stopped == "" and polled.records == 25
    assert sorted(landed_ids(tmp_path)) == sorted(o["id"] for o in orders)
    assert len(polled.files) == 3 and all(p.suffix == ".ndjson" for p in polled.files)
    state = api.PollState.load(tmp_path)
    assert state.position == "" and state.pages == 3
    assert state.watermark == max(o["updated_at"] for o in orders)


def test_the_watermark_is_sent_and_advances_only_when_a_poll_completes(tmp_path):
    orders = sample_orders(12)
    with serve(orders, TOKEN) as server:
        c = contract(server.url)
        api.poll(c, tmp_path)
        assert "updated_since" not in server.requests[0]
        first_high = max(o["updated_at"] for o in orders)
        newer = {**sample_orders(13)[12], "updated_at": "2030-01-01T00:00:00"}
        server.orders.append(newer)
        second = api.poll(c, tmp_path)
        assert server.requests[-1]["updated_since"] == [first_high]
    # inclusive watermark: the boundary record comes again (a no-op merge in ingest) with the new one
    assert newer["id"] in [json.loads(x)["id"] for p in second.files for x in p.read_text().splitlines()]
    assert api.PollState.load(tmp_path).watermark == "2030-01-01T00:00:00"


def test_transient_5xx_and_timeouts_are_retried_with_backoff(tmp_path):
    sleeps: list[float] = []
    with serve(sample_orders(5), TOKEN) as server:
        server.fail, server.slow, server.delay = 2, 1, 1.5
        polled = api.poll(contract(server.url, timeout_seconds=0.5), tmp_path, sleep=sleeps.append)
    assert polled.records == 5 and len(sleeps) == 3
    assert all(0 < s <= 30 for s in sleeps)


def test_a_429_waits_as_retry_after_says(tmp_path):
    sleeps: list[float] = []
    with serve(sample_orders(5), TOKEN) as server:
        server.rate_limit, server.retry_after = 2, "7"
        polled = api.poll(contract(server.url), tmp_path, sleep=sleeps.append)
    assert polled.records == 5 and sleeps == [7.0, 7.0]


def test_retries_stop_at_max_seconds_with_a_clear_error_keeping_landed_pages(tmp_path):
    with serve(sample_orders(15), TOKEN) as server:
        c = contract(server.url, max_seconds=3)
        api.poll(c, tmp_path)  # first poll: 2 pages landed
        server.orders.append({**sample_orders(16)[15], "updated_at": "2030-01-01T00:00:00"})
        server.rate_limit, server.retry_after = 5, "60"  # longer than the time left
        with pytest.raises(api.ApiSourceError, match=r"max_seconds 3 reached; last: 429 Too Many Requests") as exc:
            api.poll(c, tmp_path, sleep=lambda s: None)
    assert "127.0.0.1" in str(exc.value) and "updated_since=" in str(exc.value)
    assert len(api.page_files(tmp_path)) == 2


def test_retries_stop_after_max_retries(tmp_path):
    with serve(sample_orders(5), TOKEN) as server:
        server.fail = 10
        with pytest.raises(api.ApiSourceError, match=r"3 attempt\(s\) failed; last: 503 Service Unavailable"):
            api.poll(contract(server.url, max_retries=2), tmp_path, sleep=lambda s: None)
    assert api.page_files(tmp_path) == [] and not (tmp_path / api.STATE_FILE).exists()


def test_a_4xx_is_an_immediate_error_naming_url_and_status_without_the_secret(tmp_path, monkeypatch):
    with serve(sample_orders(5), TOKEN) as server:
        monkeypatch.setenv("TEST_JAFFLE_TOKEN", "wrong-" + TOKEN)
        with pytest.raises(
            api.ApiSourceError,
            match=r"GET http://127.0.0.1:\d+/orders\?api_key=\*\*\*&per_page=10&page=1 answered 401 Unauthorized",
        ) as exc:
            api.poll(contract(server.url, params={"api_key": TOKEN}), tmp_path, sleep=pytest.fail)
        assert len(server.requests) == 1
    assert TOKEN not in str(exc.value) and "api_key=***" in str(exc.value)


def test_a_missing_token_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_JAFFLE_TOKEN")
    with pytest.raises(ApiDeclarationError, match="source api_orders: environment variable TEST_JAFFLE_TOKEN"):
        api.poll(contract("http://127.0.0.1:9"), tmp_path)


def test_malformed_json_is_retried_then_landed_for_quarantine_and_the_poll_stops(tmp_path):
    with serve(sample_orders(15), TOKEN) as server:
        c = contract(server.url)
        server.malformed = 1  # once: the retry gets a good body
        assert api.poll(c, tmp_path, sleep=lambda s: None).records == 15
        server.orders.append({**sample_orders(16)[15], "updated_at": "2030-01-01T00:00:00"})
        before = api.PollState.load(tmp_path)
        server.malformed = 3  # every fetch of the page
        polled = api.poll(c, tmp_path, sleep=lambda s: None)
    assert polled.stopped.startswith("invalid_json: http://127.0.0.1")
    bad = polled.files[-1]
    assert "-page1-invalid-" in bad.name
    parsed = pages.read_records(bad)
    assert [(r.reason, r.line) for r in parsed.rejects] == [("invalid_json", 1)]
    assert parsed.rejects[0].raw.startswith('{"data": {"orders"')
    assert api.PollState.load(tmp_path) == before  # the watermark did not move past it


def test_a_response_without_the_records_path_is_an_error(tmp_path):
    with (
        serve(sample_orders(3), TOKEN) as server,
        pytest.raises(api.ApiSourceError, match=r"without a list of records at 'data.items' \(api.records\)"),
    ):
        api.poll(contract(server.url, records="data.items"), tmp_path)


def test_a_crash_between_landing_a_page_and_the_state_resumes_without_gap_or_duplicate(tmp_path):
    orders = sample_orders(25)
    with serve(orders, TOKEN) as server:
        c = contract(server.url)

        def crash(path: Path) -> None:
            if path.name.startswith("000002-"):
                raise KeyboardInterrupt("killed")

        with pytest.raises(KeyboardInterrupt):
            api.poll(c, tmp_path, on_page=crash)
        assert api.PollState.load(tmp_path).pages == 1
        api.poll(c, tmp_path)
    ids = landed_ids(tmp_path)
    assert sorted(ids) == sorted(o["id"] for o in orders)  # page 2 re-landed under the same name
    assert [p.name[:6] for p in api.page_files(tmp_path)] == ["000001", "000002", "000003"]


def test_a_poller_killed_with_sigkill_after_landing_resumes_without_gap_or_duplicate(tmp_path):
    orders = sample_orders(25)
    with serve(orders, TOKEN) as server:
        script = textwrap.dedent(
            f"""
            import os, signal, sys
            sys.path.insert(0, {str(Path(__file__).resolve().parents[4])!r})
            from tests.unit.duckbook.ingest.test_api import contract
            from duckbook.ingest import api

            def kill(path):
                if path.name.startswith("000002-"):
                    os.kill(os.getpid(), signal.SIGKILL)

            api.poll(contract({server.url!r}), __import__("pathlib").Path({str(tmp_path)!r}), on_page=kill)
            """
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        assert done.returncode == -9, done.stderr
        assert api.PollState.load(tmp_path).pages == 1 and len(api.page_files(tmp_path)) == 2
        api.poll(contract(server.url), tmp_path)
    ids = landed_ids(tmp_path)
    assert len(ids) == len(set(ids)) == 25


def test_retry_after_reads_seconds_and_http_dates():
    assert api.retry_after("120") == 120.0
    assert api.retry_after("Thu, 01 Jan 1970 00:01:00 GMT", now=30.0) == 30.0
    assert api.retry_after("Thu, 01 Jan 1970 00:01:00 GMT", now=100.0) == 0.0


def test_two_polls_of_one_source_never_interleave(tmp_path):
    with serve(sample_orders(5), TOKEN) as server:
        c = contract(server.url)

        def poll_again(path: Path) -> None:
            with pytest.raises(api.ApiSourceError, match=r"source api_orders: another poll of it is running"):
                api.poll(c, tmp_path)

        assert api.poll(c, tmp_path, on_page=poll_again).records == 5


def test_a_poll_slower_than_max_seconds_stops_keeping_the_pages_it_landed(tmp_path):
    with serve(sample_orders(25), TOKEN) as server:
        server.slow, server.delay = 2, 0.6  # page 1 lands in time, page 2 cannot
        with pytest.raises(api.ApiSourceError, match=r"page=2 failed \(max_seconds 1 reached; last: timed out"):
            api.poll(contract(server.url, max_seconds=1, timeout_seconds=5), tmp_path, sleep=lambda s: None)
    assert len(api.page_files(tmp_path)) == 1 and api.PollState.load(tmp_path).position == "2"
