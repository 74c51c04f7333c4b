"""End to end: skip-unchanged, --force, one changed report, one changed mart function, stage and
model selection with stale stages, --when-new-data, a stage run by hand, and alerts."""

from __future__ import annotations

import dataclasses
import http.server
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from duckbook import config, engine
from tests.e2e.conftest import DUCKBOOK, ROOT

pytestmark = pytest.mark.slow

DATE = "run_date=2019-08-11"  # the shared run's
DROPS = str(ROOT / "data" / "sample-drops")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DUCKBOOK, *args], cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})}
    )


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def log(warehouse: Path, run_id: str | None = None) -> dict[str, str]:
    """``{stage: status}`` of ``run_id`` (default: the newest run)."""
    cfg = dataclasses.replace(config.load(ROOT), warehouse=warehouse)
    with engine.connect_plain(cfg, read_only=True) as con:
        if run_id is None:
            run_id = con.execute("SELECT run_id FROM ops.run_log ORDER BY started_at DESC LIMIT 1").fetchone()[0]
        rows = con.execute(f"SELECT stage, status FROM ops.run_log WHERE run_id = '{run_id}'").fetchall()
    return dict(rows)


def run_id_of(stdout: str) -> str:
    return stdout.split()[1].rstrip(":")


@pytest.fixture
def copy(run, tmp_path) -> tuple[Path, Path]:
    """A copy of the shared run's warehouse and reports."""
    wh, reports = tmp_path / "wh", tmp_path / "reports"
    shutil.copytree(run["warehouse"], wh)
    shutil.copytree(run["reports"], reports)
    return wh, reports


def test_an_unchanged_rerun_skips_every_stage_and_starts_no_kernel(copy):
    wh, reports = copy
    index_before = json.loads((reports / "index.json").read_text())
    out = ok(cli("run", "--warehouse", str(wh), "--reports-dir", str(reports), "-p", DATE))
    assert "nothing changed, every stage skipped" in out
    run_id = run_id_of(out)
    assert set(log(wh, run_id).values()) == {"skipped"}
    assert not list((reports / "runs" / run_id).glob("*.ipynb")), "no notebook was executed"
    assert json.loads((reports / "index.json").read_text()) == index_before, "the pages stay as published"
    assert run_id in (reports / "runs.html").read_text()

    forced = ok(cli("run", "--warehouse", str(wh), "--reports-dir", str(reports), "-p", DATE, "--force",
                    "--stage", "overview"))  # fmt: skip
    assert log(wh, run_id_of(forced)) == {"50_report_overview": "success"}


def test_a_changed_report_notebook_reruns_only_that_report(copy, tmp_path):
    wh, reports = copy
    notebooks = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks, ignore=shutil.ignore_patterns("explore", ".ipynb_checkpoints"))
    nb = json.loads((notebooks / "50_report_customers.ipynb").read_text())
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": ["A note added by the test."]})
    (notebooks / "50_report_customers.ipynb").write_text(json.dumps(nb))
    before = {p: (reports / p).stat().st_mtime_ns for p in ("customers.html", "overview.html", "quality.html")}
    out = ok(cli("run", "--warehouse", str(wh), "--reports-dir", str(reports), "-p", DATE,
                 env={"DUCKBOOK_NOTEBOOKS_DIR": str(notebooks)}))  # fmt: skip
    statuses = log(wh, run_id_of(out))
    assert statuses.pop("50_report_customers") == "success"
    assert set(statuses.values()) == {"skipped"}, statuses
    assert (reports / "customers.html").stat().st_mtime_ns > before["customers.html"]
    assert "A note added by the test." in (reports / "customers.html").read_text()
    assert (reports / "overview.html").stat().st_mtime_ns == before["overview.html"]


def test_a_changed_mart_function_rebuilds_that_mart_and_what_reads_it(copy, tmp_path):
    wh, reports = copy
    package = tmp_path / "lib" / "jaffle_shop"
    shutil.copytree(ROOT / "lib" / "jaffle_shop", package)
    marts = (package / "marts.py").read_text()
    head = "def customers(stg_customers: ir.Table, orders: ir.Table, /) -> ir.Table:\n"
    assert head in marts
    (package / "marts.py").write_text(marts.replace(head, head + "    # a changed mart function\n"))
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path / "lib"), os.environ.get("PYTHONPATH", "")])}
    out = ok(cli("run", "--warehouse", str(wh), "--reports-dir", str(reports), "-p", DATE, env=env))
    assert "marts.customers: full (code changed)" in out
    rebuilt = [line.split(":")[0].strip() for line in out.splitlines() if line.startswith("      ")]
    assert rebuilt == ["marts.customers"], out  # the same rows: nothing downstream changed
    run_id = run_id_of(out)
    assert set(log(wh, run_id).values()) == {"success"}
    cfg = dataclasses.replace(config.load(ROOT), warehouse=wh)
    with engine.connect_plain(cfg, read_only=True) as con:
        actions = dict(con.execute(f"SELECT model, action FROM ops.model_runs WHERE run_id = '{run_id}'").fetchall())
    assert actions.pop("marts.customers") == "full"
    assert set(actions.values()) == {"unchanged"} and "staging.stg_orders" in actions and "metrics.daily" in actions


def test_a_partial_run_leaves_downstream_stages_stale_until_they_run(tmp_path):
    wh, reports = tmp_path / "wh", tmp_path / "reports"
    common = ["--warehouse", str(wh), "--reports-dir", str(reports), "-p", f"source_dir={DROPS}"]
    ok(cli("run", *common, "-p", "run_date=2019-07-24"))

    waiting = ok(cli("run", *common, "-p", "run_date=2019-07-24", "--when-new-data"))
    assert waiting.strip().splitlines() == [f"no new delivery in {DROPS} up to 2019-07-24: nothing to run"]

    out = ok(cli("run", *common, "-p", "run_date=2019-07-25", "--stage", "ingest", "--when-new-data"))
    assert "new delivered file(s)" in out.splitlines()[0]
    statuses = log(wh, run_id_of(out.splitlines()[1]))
    assert statuses.pop("10_ingest") == "success"
    assert set(statuses.values()) == {"stale"} and len(statuses) == 6, statuses
    assert "stale" in out
    index = {p["file"]: p["status"] for p in json.loads((reports / "index.json").read_text())}
    assert set(index.values()) == {"stale"}, index

    model = ok(cli("run", *common, "-p", "run_date=2019-07-25", "--select", "stg_orders"))
    assert "staging.stg_orders: incremental" in model or "staging.stg_orders: full" in model, model
    assert log(wh, run_id_of(model))["20_staging"] == "success"

    rest = ok(cli("run", *common, "-p", "run_date=2019-07-25", "--stage", "staging+"))
    statuses = log(wh, run_id_of(rest))
    assert "stale" not in statuses.values() and statuses["30_marts"] == "success", statuses
    assert {p["status"] for p in json.loads((reports / "index.json").read_text())} == {"success"}
    assert "skipped" in set(log(wh, run_id_of(ok(cli("run", *common, "-p", "run_date=2019-07-25")))).values())


def test_a_stage_run_by_hand_is_in_the_run_log(copy, tmp_path):
    wh, _ = copy
    out = tmp_path / "staging.ipynb"
    proc = subprocess.run(
        [str(Path(DUCKBOOK).with_name("papermill")), str(ROOT / "notebooks" / "20_staging.ipynb"), str(out),
         "-p", "warehouse", str(wh), "-p", "run_date", "2019-08-11", "--cwd", str(ROOT / "notebooks")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    cfg = dataclasses.replace(config.load(ROOT), warehouse=wh)
    with engine.connect_plain(cfg, read_only=True) as con:
        rows = con.execute("SELECT run_id, stage, status FROM ops.run_log WHERE run_id LIKE 'manual-%'").fetchall()
    assert [(stage, status) for _, stage, status in rows] == [("20_staging", "success")]
    shown = ok(cli("runs", "--warehouse", str(wh)))
    assert rows[0][0] in shown


class Hook(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:
        Hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_failed_run_alerts_the_webhook_and_a_dead_mail_server_does_not_fail_it(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("lib", "notebooks", "data"):
        (project / name).symlink_to(ROOT / name)
    pyproject = (ROOT / "pyproject.toml").read_text()
    alerts = ('\n[tool.duckbook.alerts]\non = ["failure", "warning"]\nsmtp_host = "127.0.0.1"\nsmtp_port = 9\n'
              'smtp_from = "duckbook@example.org"\nsmtp_to = ["team@example.org"]\ntimeout_s = 2\n')  # fmt: skip
    (project / "pyproject.toml").write_text(
        pyproject.replace("\n[tool.pytest.ini_options]", alerts + "\n[tool.pytest.ini_options]")
    )
    broken = tmp_path / "src"
    broken.mkdir()
    for f in (ROOT / "data" / "sample").glob("raw_*.csv"):
        if f.name != "raw_orders.csv":  # a delivery without one of its files fails the ingest stage
            shutil.copy(f, broken / f.name)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret_url = f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/SECRET-TOKEN"
    try:
        env = {"DUCKBOOK_PROJECT_DIR": str(project), "DUCKBOOK_WEBHOOK_URL": secret_url}
        proc = cli("run", "--warehouse", str(tmp_path / "wh"), "--reports-dir", str(tmp_path / "reports"),
                   "-p", f"source_dir={broken}", env=env)  # fmt: skip
    finally:
        server.shutdown()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "raw_orders.csv" in proc.stderr
    assert len(Hook.received) == 1
    payload = Hook.received[0]
    assert "failed" in payload["text"] and "10_ingest" in payload["text"] and payload["blocks"]
    assert payload["duckbook"]["status"] == "failed" and "raw_orders.csv" in payload["duckbook"]["error"]
    output = proc.stdout + proc.stderr
    assert "alert webhook: sent" in output and "alert email to team@example.org: failed" in output
    assert "SECRET-TOKEN" not in output
    for path in (tmp_path / "reports").rglob("*"):
        if path.is_file() and path.suffix in (".json", ".html", ".ipynb", ".jsonl"):
            assert "SECRET-TOKEN" not in path.read_text(errors="replace"), path


def test_a_full_reports_disk_after_the_commit_keeps_the_pages_and_the_run_a_success(copy, monkeypatch):
    """The warehouse is committed; the pages cannot be written (ENOSPC on the first temp copy): the
    run still succeeds with a warning, no published page changes, and the report reruns next time."""
    import errno

    from duckbook.publish import release
    from duckbook.run import runner

    wh, reports = copy
    before = {p.name: p.read_bytes() for p in reports.iterdir() if p.is_file()}

    def disk_full(text, target, run_id):
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(release, "_temp_text", disk_full)
    plan = runner.plan(stages=["overview"], parameters={"run_date": "2019-08-11"}, warehouse=wh, reports_dir=reports,
                       force=True)  # fmt: skip
    result = runner.run(plan, echo=lambda *a, **k: None)
    assert result.status == "success", result.error
    assert any(n.startswith("warning: could not publish the pages") and "No space left" in n for n in result.notes)
    after = {p.name: p.read_bytes() for p in reports.iterdir() if p.is_file() and p.name != "runs.html"}
    assert after == {k: v for k, v in before.items() if k != "runs.html"}, "no page and no index changed"
    assert not [p for p in reports.iterdir() if p.name.startswith(".")], "no temp file or journal left"
    assert log(wh, result.run_id) == {"50_report_overview": "success"}

    monkeypatch.undo()
    again = ok(cli("run", "--warehouse", str(wh), "--reports-dir", str(reports), "-p", DATE))
    assert log(wh, run_id_of(again))["50_report_overview"] == "success", "its pages were not published: it reruns"
    assert (reports / "overview.html").read_bytes() != before["overview.html"]


def test_a_run_log_that_cannot_be_completed_after_the_commit_is_a_warning(copy, monkeypatch):
    """The commit went through; writing the fingerprints fails (the disk filled up): the run is a
    success with a warning, and its stages run again next time."""
    import duckdb

    from duckbook.run import runner, wrapup

    wh, reports = copy

    def full(*args, **kwargs):
        raise duckdb.IOException("No space left on device")

    monkeypatch.setattr(wrapup.ops, "publish_run_log", full)
    plan = runner.plan(stages=["overview"], parameters={"run_date": "2019-08-11"}, warehouse=wh, reports_dir=reports,
                       force=True)  # fmt: skip
    result = runner.run(plan, echo=lambda *a, **k: None)
    assert result.status == "success", result.error
    assert any("is published, but its log could not be completed" in n for n in result.notes), result.notes
    assert log(wh, result.run_id) == {"50_report_overview": "success"}  # committed with the run
    monkeypatch.undo()
    again = ok(cli("run", "--warehouse", str(wh), "--reports-dir", str(reports), "-p", DATE))
    assert log(wh, run_id_of(again))["50_report_overview"] == "success", "no fingerprint recorded: it runs again"
