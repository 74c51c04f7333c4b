"""The ``api:`` block of a source: parsed where contracts are, with errors naming file and source."""

from __future__ import annotations

import pytest

from duckbook.ingest.api_spec import ApiDeclarationError, ApiSpec, Auth, Pagination, Watermark
from duckbook.ingest.contracts import ContractDeclarationError, parse_contracts

COLUMNS = {"id": {"type": "string"}, "updated_at": {"type": "timestamp"}}


def parse(api: object, **extra: object):
    spec = {"api": api, "primary_key": ["id"], "columns": COLUMNS, **extra}
    return parse_contracts({"api_orders": spec}, origin="sources.yml")["api_orders"]


def test_a_full_declaration_parses_into_the_contract():
    c = parse(
        {
            "base_url": "${JAFFLE_API_URL:-http://127.0.0.1:8000}",
            "endpoint": "/orders",
            "records": "data.orders",
            "pagination": {"type": "cursor", "param": "after", "next": "meta.next_cursor"},
            "watermark": {"param": "updated_since", "field": "updated_at"},
            "auth": {"header": "X-Api-Key", "env": "JAFFLE_API_KEY"},
            "params": {"status": "all"},
            "max_seconds": 60,
        }
    )
    assert c.file == "" and c.kind == "events" and c.schema_evolution.missing_columns == "null"
    assert c.api == ApiSpec(
        "${JAFFLE_API_URL:-http://127.0.0.1:8000}",
        "/orders",
        "data.orders",
        Pagination("cursor", "after", "", 100, "meta.next_cursor"),
        Watermark("updated_since", "updated_at"),
        Auth("JAFFLE_API_KEY", "X-Api-Key", bearer=False),
        (("status", "all"),),
        max_seconds=60.0,
    )


def test_the_base_url_reads_the_environment(monkeypatch):
    c = parse({"base_url": "${JAFFLE_API_URL:-http://127.0.0.1:8000}", "endpoint": "orders"})
    assert c.api.url() == "http://127.0.0.1:8000/orders"
    monkeypatch.setenv("JAFFLE_API_URL", "https://api.example.com/v2/")
    assert c.api.url() == "https://api.example.com/v2/orders"
    with pytest.raises(ApiDeclarationError, match="environment variable NOPE_URL is not set"):
        parse({"base_url": "${NOPE_URL}"}).api.url()


@pytest.mark.parametrize(
    ("api", "extra", "message"),
    [
        ({"base_url": "ftp://x"}, {}, r"api.base_url must start with http:// or https://"),
        ({"base_url": "http://x", "pages": 1}, {}, r"api has no setting 'pages'; settings: base_url, endpoint"),
        ({"base_url": "http://x", "pagination": {"type": "pages"}}, {}, r"must be one of page, offset, cursor"),
        ({"base_url": "http://x", "pagination": {"type": "cursor"}}, {}, r"type cursor needs next:"),
        ({"base_url": "http://x", "watermark": {"param": "since"}}, {}, r"api.watermark must be \{param:"),
        ({"base_url": "http://x", "auth": {"token": "abc"}}, {}, r"environment variables only"),
        ({"base_url": "http://x", "max_seconds": "soon"}, {}, r"api: could not convert string to float"),
        ({"base_url": "http://x"}, {"kind": "snapshot"}, r"an api source is kind events"),
        (
            {"base_url": "http://x"},
            {"file": "orders.csv"},
            r"needs 'file' and at least one column \('api' for an HTTP API source",
        ),
    ],
)
def test_a_malformed_api_block_names_file_source_and_choices(api, extra, message):
    with pytest.raises(ContractDeclarationError, match=r"sources.yml: source api_orders: .*" + message):
        parse(api, **extra)
