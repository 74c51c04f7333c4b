"""Run alerts: tell people when a run failed, an error check failed, or (if asked) a check warned.

:func:`send` posts a :class:`Notice` to every configured channel: a webhook (a JSON POST with a
Slack-compatible payload, plus the notice's fields under ``"duckbook"`` for other receivers) and
email over SMTP. Settings come from ``[tool.duckbook.alerts]`` (:class:`AlertSettings`); secrets
(the webhook URL, which may embed a token, and the SMTP login) come only from environment
variables read at send time, so they are in no settings object, message, run log or report.
A delivery failure never fails the run: :func:`send` returns it as a line for the run log.

The transports are the standard library's (``urllib.request`` for one JSON POST, ``smtplib`` for
one message): a notification library such as apprise would add dozens of dependencies to the
runner for two channels that take a few lines each.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Iterable, Mapping
from email.message import EmailMessage
from typing import TYPE_CHECKING

from duckbook.errors import ConfigError

if TYPE_CHECKING:
    from duckbook.config import Config

__all__ = ["EVENTS", "AlertSettings", "Notice", "send"]

#: the events an alert can be sent on: a failed run or failed error check, and warnings
EVENTS = ("failure", "warning")
_SOURCE = "[tool.duckbook.alerts]"
_SLACK_TEXT_LIMIT = 3000  # characters in one Slack section block
_LIST_LIMIT = 20  # items of a list shown in a webhook block; the email lists all


@dataclasses.dataclass(frozen=True)
class Notice:
    """What a run has to report, in human text (the runner builds it from the run's results)."""

    run_id: str
    status: str  # "success" | "failed"
    stage: str  # the failed stage, or ""
    error: str  # the first lines of the error, or ""
    failed_checks: tuple[str, ...]  # e.g. "marts.fct_orders: order_total_positive (12 rows)"
    warnings: tuple[str, ...]  # warned checks and freshness warnings
    quarantined: tuple[str, ...]  # e.g. "raw_orders.csv: 3 rows"
    warehouse: str
    link: str  # a path or URL to the executed notebook or the reports index, or ""

    def __post_init__(self) -> None:
        if self.status not in ("success", "failed"):
            raise ValueError(f"Notice.status must be 'success' or 'failed', not {self.status!r}")

    def reason(self, on: Collection[str] = EVENTS) -> str | None:
        """Why to alert when the settings alert ``on`` these events (default: any), or None.

        >>> notice = Notice("r1", "success", "", "", (), ("orders are 2 days old",), (), "wh", "")
        >>> notice.reason(), notice.reason(on=["failure"])
        ('warnings', None)
        """
        if "failure" in on and self.status == "failed":
            return "failed run"
        if "failure" in on and self.failed_checks:
            return "failed error check"
        if "warning" in on and self.warnings:
            return "warnings"
        return None

    def summary(self) -> str:
        """One line: ``run R failed: stage S``, ``run R: 2 failed checks`` or ``run R: 3 warnings``."""
        if self.status == "failed":
            return f"run {self.run_id} failed" + (f": stage {self.stage}" if self.stage else "")
        if self.failed_checks:
            return f"run {self.run_id}: {_count(self.failed_checks, 'failed check')}"
        if self.warnings:
            return f"run {self.run_id}: {_count(self.warnings, 'warning')}"
        return f"run {self.run_id} succeeded"

    def sections(self) -> list[tuple[str, tuple[str, ...]]]:
        """The notice's non-empty lists, titled (what both channels show after the summary)."""
        titled = [
            ("Failed checks", self.failed_checks),
            ("Warnings", self.warnings),
            ("Quarantined rows", self.quarantined),
        ]
        return [(f"{title} ({len(items)})", items) for title, items in titled if items]


@dataclasses.dataclass(frozen=True)
class AlertSettings:
    """``[tool.duckbook.alerts]``: when to alert and where. Holds names of environment
    variables, never their values (its repr is safe to log)."""

    on: tuple[str, ...] = ("failure",)
    webhook_url_env: str = "DUCKBOOK_WEBHOOK_URL"
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = ""
    smtp_to: tuple[str, ...] = ()
    smtp_starttls: bool = False
    smtp_user_env: str = "DUCKBOOK_SMTP_USER"
    smtp_password_env: str = "DUCKBOOK_SMTP_PASSWORD"
    timeout_s: float = 10

    @classmethod
    def from_config(cls, config: Config) -> AlertSettings:
        """The alert settings of a loaded configuration (``config.alerts``, the raw table)."""
        return cls.from_table(config.alerts, source=f"{config.root / 'pyproject.toml'} {_SOURCE}")

    @classmethod
    def from_table(cls, table: Mapping[str, object], *, source: str = _SOURCE) -> AlertSettings:
        """Parse the ``[tool.duckbook.alerts]`` table; :class:`~duckbook.errors.ConfigError` names
        the key, the expected type and the valid keys.

        >>> AlertSettings.from_table({"on": ["failure", "warning"], "smtp_host": "mail", "smtp_from": "a@b",
        ...                           "smtp_to": ["c@d"]}).on
        ('failure', 'warning')
        >>> AlertSettings.from_table({"webhook": "x"})
        Traceback (most recent call last):
        ...
        duckbook.errors.ConfigError: [tool.duckbook.alerts]: unknown key 'webhook'; valid keys: on, ...
        """
        fields = {f.name: f for f in dataclasses.fields(cls)}
        valid = ", ".join(fields)
        if unknown := sorted(set(table) - set(fields)):
            raise ConfigError(f"{source}: unknown key {unknown[0]!r}; valid keys: {valid}")
        values = {key: _typed(key, value, cls.__annotations__[key], source) for key, value in table.items()}
        settings = cls(**values)  # type: ignore[arg-type]  # each value checked against its field's type
        if bad := sorted(set(settings.on) - set(EVENTS)):
            raise ConfigError(f"{source}: 'on' has unknown event {bad[0]!r}; events: {', '.join(EVENTS)}")
        if settings.smtp_host and not (settings.smtp_from and settings.smtp_to):
            raise ConfigError(f"{source}: 'smtp_host' is set, so 'smtp_from' and 'smtp_to' are required")
        if not 0 < settings.smtp_port < 65536:
            raise ConfigError(f"{source}: 'smtp_port' must be a port number (1-65535), got {settings.smtp_port}")
        if settings.timeout_s <= 0:
            raise ConfigError(f"{source}: 'timeout_s' must be positive, got {settings.timeout_s}")
        return settings


def send(settings: AlertSettings, notice: Notice, *, env: Mapping[str, str] | None = None) -> list[str]:
    """Send ``notice`` to every configured channel if the settings alert on its :meth:`Notice.reason`.

    Returns one line per channel used (``webhook: sent``, ``email to a@b: failed: ...``); a
    delivery failure is in its line, never raised. A channel without settings (its URL variable
    unset or empty, no ``smtp_host``) is not used. ``env`` defaults to ``os.environ``.
    """
    env = os.environ if env is None else env
    reason = notice.reason(settings.on)
    if reason is None:
        return []
    secrets = [
        v for k in (settings.webhook_url_env, settings.smtp_user_env, settings.smtp_password_env) if (v := env.get(k))
    ]
    # (name when sent, name when failed, delivery): a failure names the URL's variable, never the URL
    channels: list[tuple[str, str, Callable[[], None]]] = []
    if url := env.get(settings.webhook_url_env):
        payload = _payload(notice, reason)
        channels.append(
            ("webhook", f"webhook ({settings.webhook_url_env})", lambda: _post(url, payload, settings.timeout_s))
        )
    if settings.smtp_host:
        label, message = f"email to {', '.join(settings.smtp_to)}", _email(settings, notice, reason)
        channels.append((label, label, lambda: _mail(settings, message, env)))
    return [_deliver(sent, failed, deliver, secrets, settings.timeout_s) for sent, failed, deliver in channels]


def _deliver(sent: str, failed: str, deliver: Callable[[], None], secrets: Iterable[str], timeout_s: float) -> str:
    """Run one delivery; a failure becomes a line with every secret value masked."""
    try:
        deliver()
    # OSError covers URLError, timeouts, refused connections and SMTPException
    except (OSError, http.client.HTTPException, ValueError) as err:
        text = _describe(err, timeout_s)
        for secret in secrets:
            text = text.replace(secret, "***")
        return f"{failed}: failed: {text}"
    return f"{sent}: sent"


def _describe(err: BaseException, timeout_s: float) -> str:
    if isinstance(err, urllib.error.URLError) and not isinstance(err, urllib.error.HTTPError):
        err = err.reason if isinstance(err.reason, BaseException) else err
    if isinstance(err, TimeoutError):
        return f"timed out after {timeout_s:g}s"
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    return str(err) or type(err).__name__


def _post(url: str, payload: Mapping[str, object], timeout_s: float) -> None:
    if not url.startswith(("http://", "https://")):
        raise ValueError("the webhook URL must start with http:// or https://")  # never echo it: it may hold a token
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    # urlopen raises HTTPError for any status outside 2xx (after following plain redirects)
    with urllib.request.urlopen(request, timeout=timeout_s):
        pass


def _payload(notice: Notice, reason: str) -> dict[str, object]:
    """Slack's ``text`` (notifications) and ``blocks`` (the message), and the raw notice."""
    head = f"*[duckbook] {_escape(notice.summary())}*\nreason: {reason} · warehouse: `{_escape(notice.warehouse)}`"
    texts = [head]
    if notice.error:
        texts.append(f"*Error*\n```{_escape(notice.error)}```")
    for title, items in notice.sections():
        shown = [f"• {_escape(item)}" for item in items[:_LIST_LIMIT]]
        more = [f"… and {len(items) - _LIST_LIMIT} more"] if len(items) > _LIST_LIMIT else []
        texts.append("\n".join([f"*{title}*", *shown, *more]))
    if notice.link:
        texts.append(f"*Link*: {_escape(notice.link)}")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}} for text in texts]
    return {
        "text": f"[duckbook] {notice.summary()}",
        "blocks": blocks,
        "duckbook": {**dataclasses.asdict(notice), "reason": reason},
    }


def _email(settings: AlertSettings, notice: Notice, reason: str) -> EmailMessage:
    lines = [
        f"duckbook {notice.summary()}",
        "",
        f"reason: {reason}",
        f"status: {notice.status}",
        *([f"failed stage: {notice.stage}"] if notice.stage else []),
        f"warehouse: {notice.warehouse}",
        *([f"link: {notice.link}"] if notice.link else []),
    ]
    if notice.error:
        lines += ["", "Error:", *(f"    {line}" for line in notice.error.splitlines())]
    for title, items in notice.sections():
        lines += ["", f"{title}:", *(f"  - {item}" for item in items)]
    message = EmailMessage()
    message["Subject"] = f"[duckbook] {notice.summary()}"
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(settings.smtp_to)
    message.set_content("\n".join(lines) + "\n")
    return message


def _mail(settings: AlertSettings, message: EmailMessage, env: Mapping[str, str]) -> None:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_s) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if user := env.get(settings.smtp_user_env):
            smtp.login(user, env.get(settings.smtp_password_env, ""))
        smtp.send_message(message)


def _typed(key: str, value: object, annotation: str, source: str) -> object:
    """``value`` as the field's type (a TOML list becomes a tuple), or a ConfigError naming ``key``."""
    if annotation == "tuple[str, ...]":
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        expected = "a list of strings"
    elif annotation == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        expected = "a number of seconds"
    else:
        kind = {"str": str, "int": int, "bool": bool}[annotation]
        if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
            return value
        expected = {"str": "a string", "int": "an integer", "bool": "true or false"}[annotation]
    raise ConfigError(f"{source}: {key!r} must be {expected}, got {value!r}")


def _count(items: tuple[str, ...], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _escape(text: str) -> str:
    """Slack mrkdwn's three control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str) -> str:
    return text if len(text) <= _SLACK_TEXT_LIMIT else text[: _SLACK_TEXT_LIMIT - 1] + "…"
