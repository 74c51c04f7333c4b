"""duckbook.run.alerts: settings, when to alert, and delivery to a real HTTP and SMTP server on loopback."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from duckbook import config
from duckbook.errors import ConfigError
from duckbook.run.alerts import AlertSettings, Notice, send

TOKEN_URL_PATH = "/services/T000/B000/s3cr3tT0ken"
PASSWORD = "hunter2-p4ss"

FAILED = Notice(
    run_id="20260301T120000-ab12",
    status="failed",
    stage="30_marts",
    error="CheckFailed: marts.fct_orders: order_total_positive (12 rows)\n  more detail <here> & there",
    failed_checks=("marts.fct_orders: order_total_positive (12 rows)",),
    warnings=("raw_orders is 2 days old",),
    quarantined=("raw_orders.csv: 3 rows",),
    warehouse="/data/warehouse",
    link="reports/runs/20260301T120000-ab12/30_marts.ipynb",
)
WARNED = Notice("r2", "success", "", "", (), ("marts.dim_customers: few_rows warned (3 < 10)",), (), "/wh", "")
CLEAN = Notice("r3", "success", "", "", (), (), (), "/wh", "")


# -- servers ------------------------------------------------------------------------------------


class Webhook(ThreadingHTTPServer):
    """Records each POST; answers ``status`` after waiting ``delay`` seconds (released at shutdown)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.status = 200
        self.delay = 0.0
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{TOKEN_URL_PATH}"


class _Handler(BaseHTTPRequestHandler):
    server: Webhook

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((self.path, dict(self.headers), body))
        if self.server.delay:
            self.server.release.wait(self.server.delay)
        self.send_response(self.server.status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    server = Webhook()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


class Mailbox:
    """An aiosmtpd handler keeping every message; refuses recipients at ``refused.example``."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@refused.example"):
            return "550 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


def _free_port() -> int:
    """A loopback port nothing listens on (aiosmtpd's Controller cannot bind port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox, port = Mailbox(), _free_port()
    # AUTH without TLS on loopback only: the test server has no certificate
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, authenticator=_authenticate, auth_require_tls=False
    )
    controller.start()
    yield mailbox, port
    controller.stop()


def _settings(port: int = 25, **kwargs: object) -> AlertSettings:
    table = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_from": "duckbook@example.org"}
    return AlertSettings.from_table({"smtp_to": ["team@example.org"], **table, **kwargs})


# -- when to alert ------------------------------------------------------------------------------


def test_reason_orders_failure_before_checks_before_warnings():
    assert FAILED.reason() == "failed run"
    checks_only = Notice("r", "success", "", "", ("a.b: c (1 row)",), ("w",), (), "/wh", "")
    assert checks_only.reason() == "failed error check"
    assert checks_only.reason(on=["warning"]) == "warnings"
    assert WARNED.reason() == "warnings" and WARNED.reason(on=["failure"]) is None
    assert CLEAN.reason() is None
    assert FAILED.reason(on=[]) is None


def test_summary_lines():
    assert FAILED.summary() == "run 20260301T120000-ab12 failed: stage 30_marts"
    assert Notice("r", "failed", "", "boom", (), (), (), "/wh", "").summary() == "run r failed"
    assert Notice("r", "success", "", "", ("a", "b"), (), (), "/wh", "").summary() == "run r: 2 failed checks"
    assert Notice("r", "success", "", "", (), ("w",), (), "/wh", "").summary() == "run r: 1 warning"


def test_a_notice_status_is_success_or_failed():
    with pytest.raises(ValueError, match="'success' or 'failed', not 'ok'"):
        Notice("r", "ok", "", "", (), (), (), "/wh", "")


# -- delivery -----------------------------------------------------------------------------------


def test_a_failed_run_reaches_the_webhook_and_the_mailbox(webhook, smtp):
    mailbox, port = smtp
    lines = send(_settings(port), FAILED, env={"DUCKBOOK_WEBHOOK_URL": webhook.url})

    assert lines == ["webhook: sent", "email to team@example.org: sent"]
    [(path, headers, body)] = webhook.requests
    assert path == TOKEN_URL_PATH and headers["Content-Type"] == "application/json"
    payload = json.loads(body)
    assert payload["text"] == "[duckbook] run 20260301T120000-ab12 failed: stage 30_marts"
    assert all(b["type"] == "section" and b["text"]["type"] == "mrkdwn" for b in payload["blocks"])
    texts = [b["text"]["text"] for b in payload["blocks"]]
    assert texts[0].startswith("*[duckbook] run 20260301T120000-ab12 failed: stage 30_marts*\nreason: failed run")
    assert "more detail &lt;here&gt; &amp; there" in texts[1]  # Slack's mrkdwn escapes
    assert "*Failed checks (1)*\n• marts.fct_orders: order_total_positive (12 rows)" in texts
    assert "*Quarantined rows (1)*\n• raw_orders.csv: 3 rows" in texts
    assert payload["duckbook"] == {
        "run_id": FAILED.run_id,
        "status": "failed",
        "stage": "30_marts",
        "error": FAILED.error,
        "failed_checks": list(FAILED.failed_checks),
        "warnings": list(FAILED.warnings),
        "quarantined": list(FAILED.quarantined),
        "warehouse": "/data/warehouse",
        "link": FAILED.link,
        "reason": "failed run",
    }

    [(sender, recipients, message)] = mailbox.messages
    assert (sender, recipients) == ("duckbook@example.org", ["team@example.org"])
    assert message["Subject"] == "[duckbook] run 20260301T120000-ab12 failed: stage 30_marts"
    body = message.get_content().replace("\r\n", "\n")
    for expected in (
        "reason: failed run",
        "failed stage: 30_marts",
        "warehouse: /data/warehouse",
        f"link: {FAILED.link}",
        "Error:\n    CheckFailed: marts.fct_orders: order_total_positive (12 rows)\n      more detail <here> & there",
        "Failed checks (1):\n  - marts.fct_orders: order_total_positive (12 rows)",
        "Warnings (1):\n  - raw_orders is 2 days old",
        "Quarantined rows (1):\n  - raw_orders.csv: 3 rows",
    ):
        assert expected in body


def test_warnings_are_sent_only_when_asked(webhook, smtp):
    mailbox, port = smtp
    env = {"DUCKBOOK_WEBHOOK_URL": webhook.url}
    assert send(_settings(port), WARNED, env=env) == []
    assert webhook.requests == [] and mailbox.messages == []

    lines = send(_settings(port, on=["failure", "warning"]), WARNED, env=env)
    assert lines == ["webhook: sent", "email to team@example.org: sent"]
    assert json.loads(webhook.requests[0][2])["text"] == "[duckbook] run r2: 1 warning"
    assert mailbox.messages[0][2]["Subject"] == "[duckbook] run r2: 1 warning"


def test_a_clean_run_sends_nothing(webhook, smtp):
    mailbox, port = smtp
    settings = _settings(port, on=["failure", "warning"])
    assert send(settings, CLEAN, env={"DUCKBOOK_WEBHOOK_URL": webhook.url}) == []
    assert webhook.requests == [] and mailbox.messages == []


def test_unconfigured_channels_are_not_used(webhook):
    assert send(AlertSettings(), FAILED, env={}) == []
    assert send(AlertSettings(), FAILED, env={"DUCKBOOK_WEBHOOK_URL": ""}) == []
    custom = AlertSettings(webhook_url_env="TEAM_HOOK")
    assert send(custom, FAILED, env={"DUCKBOOK_WEBHOOK_URL": webhook.url}) == []
    assert send(custom, FAILED, env={"TEAM_HOOK": webhook.url}) == ["webhook: sent"]


def test_the_environment_is_read_at_send_time(webhook, monkeypatch):
    monkeypatch.setenv("DUCKBOOK_WEBHOOK_URL", webhook.url)
    assert send(AlertSettings(), FAILED) == ["webhook: sent"]


# -- a dead endpoint is a line, never an exception ----------------------------------------------


def test_an_http_error_is_reported_without_the_url(webhook):
    webhook.status = 500
    lines = send(AlertSettings(), FAILED, env={"DUCKBOOK_WEBHOOK_URL": webhook.url})
    assert lines == ["webhook (DUCKBOOK_WEBHOOK_URL): failed: HTTP 500 Internal Server Error"]


def test_a_refused_connection_is_reported():
    url = f"http://127.0.0.1:{_free_port()}{TOKEN_URL_PATH}"
    [line] = send(AlertSettings(), FAILED, env={"DUCKBOOK_WEBHOOK_URL": url})
    assert line.startswith("webhook (DUCKBOOK_WEBHOOK_URL): failed: ") and "refused" in line
    assert "s3cr3t" not in line


def test_a_slow_webhook_times_out(webhook):
    webhook.delay = 5
    started = time.perf_counter()
    lines = send(AlertSettings(timeout_s=0.2), FAILED, env={"DUCKBOOK_WEBHOOK_URL": webhook.url})
    assert lines == ["webhook (DUCKBOOK_WEBHOOK_URL): failed: timed out after 0.2s"]
    assert time.perf_counter() - started < 2


def test_a_malformed_webhook_url_is_reported_without_echoing_it():
    [line] = send(AlertSettings(), FAILED, env={"DUCKBOOK_WEBHOOK_URL": "hooks.example/s3cr3t"})
    assert line == "webhook (DUCKBOOK_WEBHOOK_URL): failed: the webhook URL must start with http:// or https://"


def test_a_refused_smtp_connection_is_reported():
    [line] = send(_settings(_free_port()), FAILED, env={})
    assert line.startswith("email to team@example.org: failed: ") and "refused" in line


def test_a_refused_recipient_is_reported(smtp):
    mailbox, port = smtp
    settings = _settings(port, smtp_to=["nobody@refused.example"])
    [line] = send(settings, FAILED, env={})
    assert line.startswith("email to nobody@refused.example: failed: ") and "no such user here" in line
    assert mailbox.messages == []


def test_smtp_login_uses_the_environment_and_never_shows_the_password(smtp):
    mailbox, port = smtp
    env = {"DUCKBOOK_SMTP_USER": "duckbook", "DUCKBOOK_SMTP_PASSWORD": PASSWORD}
    assert send(_settings(port), FAILED, env=env) == ["email to team@example.org: sent"]
    assert len(mailbox.messages) == 1

    [line] = send(_settings(port), FAILED, env={**env, "DUCKBOOK_SMTP_PASSWORD": "wrong-" + PASSWORD})
    assert line.startswith("email to team@example.org: failed: ") and "535" in line
    assert PASSWORD not in line and len(mailbox.messages) == 1


# -- settings -----------------------------------------------------------------------------------


def test_settings_hold_names_of_variables_never_secrets(webhook, monkeypatch):
    monkeypatch.setenv("DUCKBOOK_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("DUCKBOOK_SMTP_PASSWORD", PASSWORD)
    settings = _settings(_free_port())
    assert "s3cr3t" not in repr(settings) and PASSWORD not in repr(settings)
    assert "DUCKBOOK_WEBHOOK_URL" in repr(settings)
    webhook.status = 500
    lines = send(settings, FAILED)
    assert len(lines) == 2 and all("failed" in line for line in lines)
    assert not any("s3cr3t" in line or PASSWORD in line or "127.0.0.1:" in line for line in lines)


def test_defaults():
    settings = AlertSettings.from_table({})
    assert settings == AlertSettings()
    assert settings.on == ("failure",) and settings.smtp_port == 25 and settings.timeout_s == 10
    assert (settings.webhook_url_env, settings.smtp_user_env, settings.smtp_password_env) == (
        "DUCKBOOK_WEBHOOK_URL",
        "DUCKBOOK_SMTP_USER",
        "DUCKBOOK_SMTP_PASSWORD",
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"webhook_url": "https://x"}, "unknown key 'webhook_url'; valid keys: on, webhook_url_env, smtp_host"),
        ({"on": "failure"}, "'on' must be a list of strings, got 'failure'"),
        ({"on": ["failure", "success"]}, "'on' has unknown event 'success'; events: failure, warning"),
        ({"smtp_port": "25"}, "'smtp_port' must be an integer, got '25'"),
        ({"smtp_port": True}, "'smtp_port' must be an integer, got True"),
        ({"smtp_port": 70000}, "'smtp_port' must be a port number (1-65535), got 70000"),
        ({"smtp_starttls": "yes"}, "'smtp_starttls' must be true or false, got 'yes'"),
        ({"timeout_s": 0}, "'timeout_s' must be positive, got 0"),
        ({"timeout_s": "10s"}, "'timeout_s' must be a number of seconds, got '10s'"),
        ({"smtp_to": "a@b"}, "'smtp_to' must be a list of strings, got 'a@b'"),
        ({"smtp_host": "mail"}, "'smtp_host' is set, so 'smtp_from' and 'smtp_to' are required"),
    ],
)
def test_bad_settings_name_the_key(table, message):
    with pytest.raises(ConfigError, match="^\\[tool.duckbook.alerts\\]: ") as err:
        AlertSettings.from_table(table)
    assert message in str(err.value)


def test_settings_come_from_pyproject(tmp_path, monkeypatch):
    monkeypatch.delenv("DUCKBOOK_ALERTS", raising=False)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.duckbook.alerts]\n"
        'on = ["failure", "warning"]\n'
        'webhook_url_env = "TEAM_HOOK"\n'
        'smtp_host = "mail.example.org"\n'
        'smtp_from = "duckbook@example.org"\n'
        'smtp_to = ["data-team@example.org"]\n'
        "smtp_starttls = true\n"
        "timeout_s = 5\n"
    )
    cfg = config.load(tmp_path)
    settings = AlertSettings.from_config(cfg)
    assert settings.on == ("failure", "warning") and settings.webhook_url_env == "TEAM_HOOK"
    assert settings.smtp_to == ("data-team@example.org",) and settings.smtp_starttls and settings.timeout_s == 5
    assert hash(cfg)  # the raw table does not make the configuration unhashable

    (tmp_path / "pyproject.toml").write_text("[tool.duckbook.alerts]\nsmtp_port = 'x'\n")
    with pytest.raises(ConfigError, match=r"pyproject.toml \[tool.duckbook.alerts\]: 'smtp_port' must be an integer"):
        AlertSettings.from_config(config.load(tmp_path))


def test_no_alerts_table_means_defaults(tmp_path):
    cfg = config.load(tmp_path)
    assert cfg.alerts == {} and AlertSettings.from_config(cfg) == AlertSettings()


def test_alerts_must_be_a_table(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.duckbook]\nalerts = "on"\n')
    with pytest.raises(ConfigError, match=r"setting 'alerts' must be a table \(\[tool.duckbook.alerts\]\)"):
        config.load(tmp_path)
