"""A model's code fingerprint follows the code it uses from its own package, nothing else."""

from __future__ import annotations

import importlib
import sys
import textwrap

from duckbook.project.code import function_digest


def load(tmp_path, monkeypatch, source: str, name: str = "pkg_code_test"):
    """Write ``source`` as ``name/models.py`` and import it fresh."""
    package = tmp_path / name
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
        del sys.modules[module]
    importlib.invalidate_caches()
    return importlib.import_module(f"{name}.models")


BASE = """
import math
RATE = 2
def helper(x):
    return x * RATE
def unrelated(x):
    return x
def model_a(t, /):
    return helper(t) + math.floor(1.5)
def model_b(t, /):
    return unrelated(t)
"""


def test_a_change_to_a_helper_changes_only_the_models_that_use_it(tmp_path, monkeypatch):
    first = load(tmp_path, monkeypatch, BASE)
    a, b = function_digest(first.model_a), function_digest(first.model_b)
    second = load(tmp_path, monkeypatch, BASE.replace("return x * RATE", "return x * RATE + 1"))
    assert function_digest(second.model_a) != a
    assert function_digest(second.model_b) == b


def test_a_constant_it_uses_counts(tmp_path, monkeypatch):
    a = function_digest(load(tmp_path, monkeypatch, BASE).model_a)
    assert function_digest(load(tmp_path, monkeypatch, BASE.replace("RATE = 2", "RATE = 3")).model_a) != a


def test_a_comment_or_edit_elsewhere_in_the_module_does_not(tmp_path, monkeypatch):
    a = function_digest(load(tmp_path, monkeypatch, BASE).model_a)
    assert function_digest(load(tmp_path, monkeypatch, BASE + "\ndef added(x):\n    return x\n").model_a) == a
