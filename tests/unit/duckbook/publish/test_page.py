"""The kernel side of a report: the run line, its metadata, and plain tables."""

from __future__ import annotations

import datetime as dt
import decimal

import polars as pl
import pytest

from duckbook.publish import page

STARTED = dt.datetime(2019, 8, 11, 6, 30)


@pytest.fixture
def shown(monkeypatch):
    """What ``header`` displays: [(html, metadata)]."""
    import IPython.display

    out = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, metadata: out.append((obj.data, metadata)))
    return out


def test_header_records_run_data_date_and_freshness(shown):
    page.header("Sales <script>", run_id="r<1>", data_date=dt.date(2019, 8, 1), run_started_at=STARTED)
    [(html, metadata)] = shown
    assert metadata == {
        page.META_KEY: {
            "title": "Sales <script>",  # raw: the page template escapes it
            "run_id": "r<1>",
            "data_date": "2019-08-01",
            "freshness": "10 day(s) old on 2019-08-11",
            "run_started_at": "2019-08-11T06:30:00",
            "snapshot": None,  # not known before the run commits
        }
    }
    assert html == (
        "<p class='run-meta'>Run <code>r&lt;1&gt;</code> · data through <b>2019-08-01</b> "
        "(10 day(s) old on 2019-08-11) · built 2019-08-11 06:30:00 UTC</p>"
    )


@pytest.mark.parametrize(
    ("data_date", "run_date", "expected"),
    [
        (dt.datetime(2019, 8, 10, 23, 59), None, ("2019-08-10", "1 day(s) old on 2019-08-11")),
        ("2019-08-01T12:00:00", dt.date(2019, 8, 2), ("2019-08-01", "1 day(s) old on 2019-08-02")),
        (None, None, ("n/a", "n/a")),
    ],
)
def test_header_freshness_is_run_date_minus_data_date(shown, data_date, run_date, expected):
    page.header("t", run_id="r", data_date=data_date, run_started_at=STARTED, run_date=run_date)
    meta = shown[0][1][page.META_KEY]
    assert (meta["data_date"], meta["freshness"]) == expected


def test_table_html_is_plain_escaped_and_rounded_with_text_left_and_numbers_right():
    df = pl.DataFrame({"name<": ["a & b", None], "n": [1234567, 2], "x": [1.23456, 2.0]})
    assert page.table(df, decimals=1)._repr_html_() == (
        "<table class='report-table'><thead><tr><th class='text'>name&lt;</th><th class='num'>n</th>"
        "<th class='num'>x</th></tr></thead><tbody>"
        "<tr><td class='text'>a &amp; b</td><td class='num'>1,234,567</td><td class='num'>1.2</td></tr>"
        "<tr><td class='text'></td><td class='num'>2</td><td class='num'>2.0</td></tr></tbody></table>"
    )


def test_table_rounds_decimals_and_its_text_has_no_shape_or_dtypes():
    amounts = [decimal.Decimal("1.004"), decimal.Decimal("2.496")]
    shown = page.table(pl.DataFrame({"amount": amounts}, schema={"amount": pl.Decimal(10, 3)}))
    assert shown.df["amount"].to_list() == [decimal.Decimal("1.00"), decimal.Decimal("2.50")]
    text = repr(shown)
    assert "amount" in text and "2.50" in text
    assert "shape" not in text and "decimal" not in text


def test_setup_charts_renders_altair_as_svg():
    import altair as alt

    before = alt.renderers.active
    try:
        page.setup_charts()
        assert alt.renderers.active == "svg"
    finally:
        alt.renderers.enable(before)


@pytest.mark.slow
def test_under_the_runner_charts_are_left_as_specs_and_drawn_exactly_as_the_svg_renderer_would(monkeypatch):
    import altair as alt

    chart = alt.Chart(pl.DataFrame({"day": ["a", "b"], "n": [1, 2]})).mark_bar().encode(x="day:N", y="n:Q")
    before = alt.renderers.active
    try:
        page.setup_charts()
        in_kernel = chart._repr_mimebundle_()
        monkeypatch.setenv(page.CHARTS_IN_RUNNER, "1")
        page.setup_charts()
        left = chart._repr_mimebundle_()
        alt.renderers.set_embed_options(theme="dark")  # options the runner would not apply: drawn in the kernel
        assert "image/svg+xml" in chart._repr_mimebundle_()
    finally:
        alt.renderers.set_embed_options()
        alt.renderers.enable(before)
    assert list(left) == [page.CHART_MIME] and set(left[page.CHART_MIME]) == {"spec", "vl_version"}
    assert page.draw(left[page.CHART_MIME]) == in_kernel["image/svg+xml"]


def test_header_says_how_to_reproduce_before_the_run_commits(shown):
    page.header("t", run_id="r<1>", data_date=None, run_started_at=STARTED, stage="50_report_overview")
    [(html, metadata)] = shown
    assert metadata[page.META_KEY]["snapshot"] is None
    assert html.endswith(
        "<p class='run-meta reproduce'>Built from "
        '<span class="snapshot" data-duckbook-snapshot="">the snapshot run r&lt;1&gt; commits</span>'
        " · reproduce with <code>duckbook run --stage 50_report_overview -p as_of=r&lt;1&gt;</code></p>"
    )


def test_header_of_a_reproduced_report_names_its_snapshot(shown):
    page.header("t", run_id="r2", data_date=None, run_started_at=STARTED, stage="overview", as_of="r1", snapshot=7)
    [(html, metadata)] = shown
    assert metadata[page.META_KEY]["snapshot"] == 7
    assert (
        'Built as of <code>r1</code> from <span class="snapshot" data-duckbook-snapshot="7">snapshot 7</span>'
        " · reproduce with <code>duckbook run --stage overview -p as_of=r1</code>"
    ) in html


def test_header_without_a_stage_has_no_reproduce_line(shown):
    page.header("t", run_id="r", data_date=None, run_started_at=STARTED, snapshot=3)
    [(html, metadata)] = shown
    assert "reproduce" not in html and metadata[page.META_KEY]["snapshot"] == 3


def test_table_with_formats_is_formatted_for_people():
    df = pl.DataFrame({"revenue": [decimal.Decimal("1234.5")]})
    assert repr(page.table(df, {"revenue": "currency"})).splitlines()[-1] == "$1,234.50"


@pytest.mark.slow
def test_snapshot_of_a_reproduced_stage_is_the_snapshot_it_reads_and_none_in_a_run(tmp_path):
    from duckbook import engine
    from duckbook.build.context import start_stage
    from duckbook.engine import lake

    warehouse = str(tmp_path / "w")
    writer = start_stage("s", run_id="r1", warehouse=warehouse)
    assert page.snapshot_of(writer) is None  # its snapshot is committed after the report
    writer.close()
    reader = start_stage("s", run_id="r2", warehouse=warehouse, as_of="r1")
    try:
        committed = lake.resolve(engine.raw(reader.con), "r1")
        assert page.snapshot_of(reader) == committed
    finally:
        reader.close()
