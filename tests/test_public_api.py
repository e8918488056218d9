"""rag's public API (rag/__init__.py): every listed name resolves, lazily."""

from __future__ import annotations

import subprocess
import sys

import rag


def test_every_public_name_resolves_and_all_lists_exactly_them():
    assert sorted(rag.__all__) == sorted(rag._EXPORTS)
    for name in rag.__all__:
        assert getattr(rag, name) is not None
    try:
        rag.no_such_name  # noqa: B018
    except AttributeError as e:
        assert "no_such_name" in str(e)
    else:
        raise AssertionError("an unknown name must raise AttributeError")


def test_import_rag_loads_no_stage():
    code = "import sys, rag; print(sorted(m for m in sys.modules if m.startswith('rag.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
