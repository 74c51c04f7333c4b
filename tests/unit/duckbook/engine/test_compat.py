"""The Ibis internals duckbook relies on: this file fails loudly when an Ibis upgrade removes or
renames one (then adapt duckbook/engine/compat.py, the one place that uses them)."""

from __future__ import annotations

import ibis
import pytest

from duckbook.engine import compat


@pytest.fixture
def con():
    connection = ibis.duckdb.connect()
    yield connection
    connection.disconnect()


@pytest.mark.parametrize("path", [path for path, _ in compat.INTERNALS])
def test_the_installed_ibis_has_every_internal_duckbook_uses(con, path):
    target = con
    for part in path.split("."):
        assert hasattr(target, part), f"ibis {ibis.__version__}: DuckDB Backend.{path} is gone; update engine/compat.py"
        target = getattr(target, part)
    assert callable(target)


def test_register_inputs_lets_compiled_sql_read_a_memtable(con):
    expr = ibis.memtable({"x": [1, 2, 3]}).filter(ibis._.x > 1)
    sql = con.compile(expr)
    compat.register_inputs(con, expr)
    assert sorted(con.raw_sql(sql).fetchall()) == [(2,), (3,)]


def test_to_sqlglot_renders_what_compile_returns(con):
    expr = ibis.memtable({"x": [1]}).mutate(y=ibis._.x * 2)
    assert compat.to_sqlglot(con, expr).sql(dialect="duckdb") == con.compile(expr)


class _OldBackend:
    """A backend from an Ibis that no longer has the internals."""

    compiler = object()


@pytest.mark.parametrize(
    ("call", "path"),
    [(compat.register_inputs, "_run_pre_execute_hooks"), (compat.to_sqlglot, "compiler.to_sqlglot")],
)
def test_a_missing_internal_is_named_with_the_ibis_version(call, path):
    with pytest.raises(compat.IbisCompatibilityError) as excinfo:
        call(_OldBackend(), ibis.memtable({"x": [1]}))
    message = str(excinfo.value)
    assert f"Backend.{path}" in message
    assert f"ibis {ibis.__version__}" in message
    assert "constraints.txt" in message
    assert "engine/compat.py" in message
