"""The ``api:`` block of a source: where an HTTP API source's records come from.

A source declares ``api:`` instead of ``file:``; its columns, primary key and checks are the
contract of one record, exactly as for a file::

    sources:
      api_orders:
        api:
          base_url: ${JAFFLE_API_URL:-http://127.0.0.1:8000}   # environment, with a default
          endpoint: /orders
          records: data.orders            # where the list of records is in a response ("" = the body)
          pagination: {type: page, param: page, size_param: per_page, size: 100}
          watermark: {param: updated_since, field: updated_at}
          auth: {bearer_env: JAFFLE_API_TOKEN}
        primary_key: [id]
        duplicates: {keep: latest, by: updated_at}
        columns: ...

Pagination types: ``page`` (a page number from 1), ``offset`` (a record offset from 0), ``cursor``
(``next:`` the response path of the next cursor, sent as ``param``), ``next_link`` (``next:`` the
response path of the next page's URL) and ``none``. Auth comes from environment variables only:
``{bearer_env: VAR}`` or ``{header: X-Api-Key, env: VAR}``; a secret is never written in YAML.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from typing import Any

from duckbook.errors import ContractError, ProjectError

PAGINATION_TYPES = ("page", "offset", "cursor", "next_link", "none")
#: ``${NAME}`` or ``${NAME:-default}`` in ``base_url``
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_API_KEYS = (
    "base_url",
    "endpoint",
    "records",
    "pagination",
    "watermark",
    "auth",
    "params",
    "timeout_seconds",
    "max_seconds",
    "max_retries",
    "json_retries",
)


class ApiDeclarationError(ProjectError, ContractError):
    """The ``api:`` block of a source in the project YAML is malformed."""


@dataclasses.dataclass(frozen=True)
class Pagination:
    type: str = "none"  # one of PAGINATION_TYPES
    param: str = ""  # query parameter of the page number, offset or cursor
    size_param: str = ""  # query parameter of the page size ("" = the server's default)
    size: int = 100
    next: str = ""  # cursor / next_link: response path of the next cursor or URL


@dataclasses.dataclass(frozen=True)
class Watermark:
    param: str  # query parameter sent with the committed watermark (e.g. updated_since)
    field: str  # record field whose greatest value the watermark advances to
    initial: str = ""  # sent on the first poll ("" = the parameter is left out)


@dataclasses.dataclass(frozen=True)
class Auth:
    env: str  # environment variable holding the secret
    header: str = "Authorization"
    bearer: bool = True  # the header value is ``Bearer <secret>``

    def secret(self, source: str) -> str:
        """The secret from the environment; :class:`ApiDeclarationError` naming the variable if unset."""
        value = os.environ.get(self.env, "")
        if not value:
            raise ApiDeclarationError(f"source {source}: environment variable {self.env} (auth) is not set")
        return value


@dataclasses.dataclass(frozen=True)
class ApiSpec:
    base_url: str
    endpoint: str = ""
    records: str = ""
    pagination: Pagination = Pagination()
    watermark: Watermark | None = None
    auth: Auth | None = None
    params: tuple[tuple[str, str], ...] = ()
    timeout_seconds: float = 10.0
    max_seconds: float = 300.0
    max_retries: int = 5
    json_retries: int = 2  # a malformed body is fetched again this many times, then quarantined

    def url(self) -> str:
        """The endpoint's URL with ``${VAR}`` / ``${VAR:-default}`` taken from the environment.

        >>> ApiSpec("${NO_SUCH_VAR_X:-http://h:1}/v1", "/orders").url()
        'http://h:1/v1/orders'
        """

        base = expand_env(self.base_url, "base_url").rstrip("/")
        return f"{base}/{self.endpoint.lstrip('/')}" if self.endpoint else base


def expand_env(text: str, what: str) -> str:
    """``text`` with ``${VAR}`` / ``${VAR:-default}`` taken from the environment (``what`` names the
    setting in the error when a variable without a default is unset).

    >>> expand_env("${NO_SUCH_VAR_X:-dbname=shop} user=me", "dsn")
    'dbname=shop user=me'
    """

    def env(match: re.Match[str]) -> str:
        value = os.environ.get(match[1])
        if value is None and match[2] is None:
            raise ApiDeclarationError(f"{what} {text}: environment variable {match[1]} is not set")
        return value if value is not None else match[2]

    return _ENV.sub(env, text)


def parse_api(spec: Any, where: str) -> ApiSpec:
    """The ``api:`` mapping of a source (``where`` names file and source in errors)."""
    if not isinstance(spec, Mapping):
        raise ApiDeclarationError(f"{where}: api must be a mapping with base_url, endpoint, records, ...")
    unknown = [k for k in spec if k not in _API_KEYS]
    if unknown:
        raise ApiDeclarationError(f"{where}: api has no setting {unknown[0]!r}; settings: {', '.join(_API_KEYS)}")
    base = str(spec.get("base_url") or "")
    if not re.match(r"^(https?://|\$\{)", base):
        raise ApiDeclarationError(
            f"{where}: api.base_url must start with http:// or https:// (or ${{VAR}}), not {base!r}"
        )
    try:
        return ApiSpec(
            base_url=base,
            endpoint=str(spec.get("endpoint") or ""),
            records=str(spec.get("records") or ""),
            pagination=_pagination(spec.get("pagination") or {"type": "none"}, where),
            watermark=_watermark(spec.get("watermark"), where),
            auth=_auth(spec.get("auth"), where),
            params=tuple((str(k), str(v)) for k, v in (spec.get("params") or {}).items()),
            timeout_seconds=float(spec.get("timeout_seconds", 10.0)),
            max_seconds=float(spec.get("max_seconds", 300.0)),
            max_retries=int(spec.get("max_retries", 5)),
            json_retries=int(spec.get("json_retries", 2)),
        )
    except ApiDeclarationError:
        raise
    except (TypeError, ValueError, AttributeError) as exc:  # a number that is not one, a list for a mapping
        raise ApiDeclarationError(f"{where}: api: {exc}") from None


def _pagination(given: Any, where: str) -> Pagination:
    kind = given.get("type", "none") if isinstance(given, Mapping) else given
    if kind not in PAGINATION_TYPES:
        raise ApiDeclarationError(
            f"{where}: api.pagination.type must be one of {', '.join(PAGINATION_TYPES)}, not {kind!r}"
        )
    p = Pagination(
        kind,
        str(given.get("param", {"page": "page", "offset": "offset", "cursor": "cursor"}.get(kind, ""))),
        str(given.get("size_param", "")),
        int(given.get("size", 100)),
        str(given.get("next", "")),
    )
    if kind in ("cursor", "next_link") and not p.next:
        raise ApiDeclarationError(f"{where}: api.pagination type {kind} needs next: the response path of the next one")
    if kind in ("page", "offset") and p.size < 1:
        raise ApiDeclarationError(f"{where}: api.pagination.size must be at least 1, not {p.size}")
    return p


def _watermark(given: Any, where: str) -> Watermark | None:
    if given is None:
        return None
    if not isinstance(given, Mapping) or not given.get("param") or not given.get("field"):
        raise ApiDeclarationError(f"{where}: api.watermark must be {{param: <query parameter>, field: <record field>}}")
    return Watermark(str(given["param"]), str(given["field"]), str(given.get("initial", "")))


def _auth(given: Any, where: str) -> Auth | None:
    if given is None:
        return None
    if isinstance(given, Mapping) and set(given) == {"bearer_env"}:
        return Auth(str(given["bearer_env"]))
    if isinstance(given, Mapping) and set(given) == {"header", "env"}:
        return Auth(str(given["env"]), str(given["header"]), bearer=False)
    raise ApiDeclarationError(
        f"{where}: api.auth must be {{bearer_env: VAR}} or {{header: NAME, env: VAR}} "
        "(secrets come from environment variables only)"
    )
