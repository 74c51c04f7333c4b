"""Poll an HTTP API source: land each page of records as a delivery file, then advance its state.

Connectors land deliveries; ingest stays the single path into raw. :func:`poll` fetches the pages
of one source (``api:`` in its declaration, :mod:`duckbook.ingest.api_spec`) with httpx, retrying
timeouts, connection errors and 5xx with exponential backoff and jitter (tenacity), honouring a
429's ``Retry-After`` (seconds or an HTTP date), within ``max_seconds`` for the whole poll. A 4xx
is an immediate :class:`ApiSourceError` naming the URL (secrets redacted) and the status.

Each page is written durably to ``<folder>/<seq>-<page>-<sha256>.ndjson`` (:mod:`duckbook.ingest.pages`)
*before* ``state.json`` records it, so a crash between the two fetches the same page again and
writes the same bytes under the same name: no gap, no duplicate. The watermark sent
(e.g. ``updated_since``, inclusive) advances to the greatest value of its record field only when a
poll has landed its last page; a page's rows delivered again merge by key in ingest as no-ops.
A body that stays malformed after ``json_retries`` fetches is landed as a one-line page that ingest
quarantines as ``invalid_json`` (naming the page file), and the poll stops there: the next poll
asks for that page again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import fcntl
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import tenacity

from duckbook.errors import DuckbookError
from duckbook.ingest import pages
from duckbook.ingest.api_spec import ApiSpec
from duckbook.ingest.contracts import Contract

STATE_FILE = "state.json"
#: query parameters whose values are never shown (besides the declared secrets themselves)
_SECRET_PARAM = re.compile(r"([?&][^=&]*(?:token|key|secret|password|signature|auth)[^=&]*=)[^&]*", re.IGNORECASE)


class ApiSourceError(DuckbookError):
    """Polling an API source failed (4xx, retries or time exhausted, a response without records)."""


class _Transient(Exception):
    """A failure worth another try (timeout, connection, 5xx, 429)."""

    def __init__(self, what: str, retry_after: float | None = None) -> None:
        super().__init__(what)
        self.retry_after = retry_after


@dataclasses.dataclass(frozen=True)
class PollState:
    """What ``state.json`` keeps: the committed watermark, the pending poll's next page and the
    greatest watermark value it saw, and how many pages were ever landed (the next file's number)."""

    watermark: Any = None
    position: str = ""  # the next page / offset / cursor / URL of an unfinished poll
    high: Any = None
    pages: int = 0

    @classmethod
    def load(cls, folder: Path) -> PollState:
        path = folder / STATE_FILE
        return cls(**json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else cls()

    def save(self, folder: Path) -> None:
        pages.atomic_write(folder / STATE_FILE, json.dumps(dataclasses.asdict(self), indent=1).encode())


@dataclasses.dataclass(frozen=True)
class Polled:
    """What a poll did: the page files it landed, records in them, and why it stopped early ("" = done)."""

    source: str
    files: tuple[Path, ...]
    records: int
    stopped: str = ""


def landing_folder(warehouse: Path, source: str) -> Path:
    """Where an API source's pages and state live: ``<warehouse>/api/<source>/``."""
    return warehouse / "api" / source


def page_files(folder: Path) -> list[Path]:
    """The page files landed in ``folder``, in landing order."""
    return sorted(folder.glob(f"*{pages.SUFFIX}")) if folder.is_dir() else []


def poll(
    contract: Contract,
    folder: Path,
    *,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_page: Callable[[Path], None] | None = None,
) -> Polled:
    """Fetch every page of ``contract``'s API since its watermark into ``folder`` (see the module
    docstring); ``on_page`` is called after a page is landed and before the state records it.

    Raises :class:`ApiSourceError`; pages landed before the error stay landed and recorded.
    """
    spec = contract.api
    if spec is None:
        raise ApiSourceError(f"source {contract.name} is not an api source (it declares file: {contract.file})")
    secrets = [spec.auth.secret(contract.name)] if spec.auth else []
    headers = {"Accept": "application/json"}
    if spec.auth:
        headers[spec.auth.header] = f"Bearer {secrets[0]}" if spec.auth.bearer else secrets[0]
    fetcher = _Fetcher(contract.name, spec, secrets, headers, sleep, time.monotonic() + spec.max_seconds)
    own = httpx.Client(follow_redirects=True) if client is None else contextlib.nullcontext(client)
    with _polling(contract.name, folder), own as http:
        return _pages(contract, spec, folder, fetcher, http, on_page)


@contextlib.contextmanager
def _polling(source: str, folder: Path) -> Iterator[None]:
    """Hold the source's poll lock: two pollers of one source would write the same state."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ApiSourceError(f"source {source}: another poll of it is running (lock {folder / '.lock'})") from None
        yield


def _pages(
    contract: Contract,
    spec: ApiSpec,
    folder: Path,
    fetcher: _Fetcher,
    http: httpx.Client,
    on_page: Callable[[Path], None] | None,
) -> Polled:
    """The poll's loop: fetch, land, record, until the last page."""
    state, count = PollState.load(folder), 0
    landed: list[Path] = []
    while True:
        if time.monotonic() >= fetcher.deadline:
            raise ApiSourceError(
                f"source {contract.name}: max_seconds {spec.max_seconds:g} reached after {len(landed)} page(s) "
                "of this poll; they stay landed, the next poll resumes from the next page"
            )
        url, params = _request(spec, state)
        body, records = fetcher.page(http, url, params)
        ident = _ident(spec, state.position)
        if records is None:  # malformed after every retry: quarantined by ingest, the poll stops here
            path = folder / f"{state.pages + 1:06d}-{ident}-invalid-{_digest(body.encode())}{pages.SUFFIX}"
            pages.write_page(path, None, body=body)
            return Polled(contract.name, (*landed, path), count, f"invalid_json: {fetcher.show(url, params)}")
        nxt = _next(spec, state, body, records, url)
        if nxt is not None and nxt == state.position:
            raise ApiSourceError(f"source {contract.name}: {fetcher.show(url, params)} names itself as the next page")
        high = _highest(spec, records, state.high if state.position else state.watermark)
        seq = state.pages
        if records:
            text = "".join(pages.dumps(r) + "\n" for r in records).encode("utf-8")
            path = folder / f"{seq + 1:06d}-{ident}-{_digest(text)}{pages.SUFFIX}"
            pages.atomic_write(path, text)
            landed.append(path)
            count += len(records)
            seq += 1
            if on_page is not None:
                on_page(path)
        if nxt is None:  # the poll is complete: only now the watermark moves
            state = PollState(high, "", None, seq)
        else:
            state = PollState(state.watermark, nxt, high, seq)
        state.save(folder)
        if nxt is None:
            return Polled(contract.name, tuple(landed), count)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def _ident(spec: ApiSpec, position: str) -> str:
    """A page's identity in its file name (so quarantine names the page)."""
    kind = spec.pagination.type
    if kind in ("page", "offset"):
        return f"{kind}{position or ('1' if kind == 'page' else '0')}"
    if kind in ("cursor", "next_link"):
        return f"{kind}-{hashlib.sha256(position.encode()).hexdigest()[:8]}" if position else f"{kind}-first"
    return "all"


def _request(spec: ApiSpec, state: PollState) -> tuple[str, dict[str, str]]:
    """The URL and query parameters of the next page."""
    p, position = spec.pagination, state.position
    if p.type == "next_link" and position:
        return position, {}  # a next link carries its own parameters
    params = dict(spec.params)
    mark = state.watermark if state.watermark is not None else (spec.watermark.initial if spec.watermark else "")
    if spec.watermark and mark not in ("", None):
        params[spec.watermark.param] = str(mark)
    if p.size_param and p.type in ("page", "offset"):
        params[p.size_param] = str(p.size)
    if p.type in ("page", "offset"):
        params[p.param] = position or ("1" if p.type == "page" else "0")
    elif p.type == "cursor" and position:
        params[p.param] = position
    return spec.url(), params


def _next(spec: ApiSpec, state: PollState, body: Any, records: list[Any], url: str) -> str | None:
    """The position of the page after this one, or None when this was the last."""
    p = spec.pagination
    if p.type == "page":
        return None if len(records) < p.size else str(int(state.position or "1") + 1)
    if p.type == "offset":
        return None if len(records) < p.size else str(int(state.position or "0") + len(records))
    if p.type in ("cursor", "next_link") and records:
        nxt = _at(json.loads(body), p.next)
        if nxt in (None, ""):
            return None
        return urljoin(url, str(nxt)) if p.type == "next_link" else str(nxt)
    return None


def _at(value: Any, path: str) -> Any:
    """``value`` at dotted ``path`` (None when a step is missing)."""
    for step in [s for s in path.split(".") if s]:
        value = value.get(step) if isinstance(value, Mapping) else None
    return value


def _highest(spec: ApiSpec, records: list[Any], current: Any) -> Any:
    """The greatest watermark field among ``records`` and ``current`` (numbers by value, else text)."""
    if spec.watermark is None:
        return None
    values = [r.get(spec.watermark.field) for r in records if isinstance(r, Mapping)]
    given = [v for v in [*values, current] if v not in (None, "")]
    if not given:
        return None
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in given):
        return max(given, key=float)
    return max(str(v) for v in given)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta seconds or an HTTP date.

    >>> retry_after("3"), retry_after(None), retry_after("soon")
    (3.0, None, None)
    >>> retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0)
    10.0
    """
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class _Fetcher:
    """One poll's requests: retries, the time bound and redaction."""

    def __init__(
        self,
        source: str,
        spec: ApiSpec,
        secrets: list[str],
        headers: Mapping[str, str],
        sleep: Callable[[float], None],
        deadline: float,
    ) -> None:
        self.source, self.spec, self.secrets, self.headers = source, spec, secrets, dict(headers)
        self.sleep, self.deadline = sleep, deadline
        self.backoff = tenacity.wait_exponential_jitter(multiplier=0.2, max=30)

    def show(self, url: str, params: Mapping[str, str]) -> str:
        """The request's URL as it may be shown: secret values and secret-looking parameters as ***."""
        text = str(httpx.URL(url, params=params))
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return _SECRET_PARAM.sub(r"\1***", text)

    def page(self, client: httpx.Client, url: str, params: Mapping[str, str]) -> tuple[str, list[Any] | None]:
        """The body of one page and its records (None when the body stays malformed JSON)."""
        for attempt in range(self.spec.json_retries + 1):
            body = self.get(client, url, params).text
            try:
                parsed = json.loads(body)
            except ValueError:
                if attempt < self.spec.json_retries:
                    self.sleep(min(30.0, 0.2 * 2**attempt))
                continue
            records = _at(parsed, self.spec.records) if self.spec.records else parsed
            if not isinstance(records, list):
                raise ApiSourceError(
                    f"source {self.source}: GET {self.show(url, params)} answered JSON without a list of records "
                    f"at {self.spec.records or 'the top level'!r} (api.records)"
                )
            return body, records
        return body, None

    def get(self, client: httpx.Client, url: str, params: Mapping[str, str]) -> httpx.Response:
        """GET with retries (see the module docstring); :class:`ApiSourceError` when they run out."""
        shown = self.show(url, params)

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _Transient) and exc.retry_after is not None:
                return exc.retry_after
            return float(self.backoff(state))

        timed_out: list[bool] = []

        def stop(state: tenacity.RetryCallState) -> bool:
            timed_out.append(time.monotonic() + (state.upcoming_sleep or 0) >= self.deadline)
            return timed_out[-1] or state.attempt_number > self.spec.max_retries

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Transient),
            wait=wait,
            stop=stop,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._once(client, url, params, shown)
        except _Transient as exc:
            tries = retrying.statistics.get("attempt_number", 1)
            why = f"max_seconds {self.spec.max_seconds:g} reached" if any(timed_out) else f"{tries} attempt(s) failed"
            raise ApiSourceError(
                f"source {self.source}: GET {shown} failed ({why}; last: {self._clean(str(exc))}); "
                "pages landed before stay landed, the next poll resumes from the last landed page"
            ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _once(self, client: httpx.Client, url: str, params: Mapping[str, str], shown: str) -> httpx.Response:
        timeout = max(0.05, min(self.spec.timeout_seconds, self.deadline - time.monotonic()))
        try:
            # no params at all for a next link: httpx would replace the query string it carries
            response = client.get(url, params=params or None, headers=self.headers, timeout=timeout)
        except httpx.TimeoutException:
            raise _Transient(f"timed out after {timeout:.1f}s") from None
        except httpx.TransportError as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}") from None
        status = response.status_code
        if status == 429:
            raise _Transient("429 Too Many Requests", retry_after(response.headers.get("Retry-After")))
        if status >= 500:
            raise _Transient(f"{status} {response.reason_phrase}")
        if status >= 400:
            raise ApiSourceError(
                f"source {self.source}: GET {shown} answered {status} {response.reason_phrase}"
                + (
                    " (check the credentials in the environment variable api.auth names)"
                    if status in (401, 403)
                    else ""
                )
            )
        return response

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text
