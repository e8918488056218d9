"""The import contract in pyproject.toml ([tool.importlinter]): rag's stages are layered, ui/ and eval/ use only
rag's public API, rag.cli is the only composition root, nothing in the product imports testing/.

`lint-imports` reads the code without running it (a fraction of a second), so this is in the fast tier.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rag", "ui", "eval", "testing")  # root_packages of the contract


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """Run the venv's `lint-imports` on the project in root (root first on the path, no cache written)."""
    exe = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([str(exe), "--no-cache", "--no-logo"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_import_contract_is_kept():
    run = lint_imports(ROOT)
    assert run.returncode == 0, f"lint-imports found a broken contract:\n{run.stdout}\n{run.stderr}"
    assert "0 broken" in run.stdout, run.stdout


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The packages and pyproject.toml copied to a temporary folder, to be broken on purpose."""
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


@pytest.mark.parametrize("module, line, reported", [
    # a lower layer reaching up: the store asking the retriever
    ("rag/store/paths.py", "from rag.search import retriever", "rag.store.paths -> rag.search.retriever"),
    # a stage going through the public API, which loads the stages above it (seen through its TYPE_CHECKING block)
    ("rag/store/paths.py", "from rag import Retriever", "rag -> rag.search.retriever"),
    # two independent siblings
    ("rag/search/retriever.py", "from rag.ingestion import lock", "rag.search.retriever -> rag.ingestion.lock"),
    # the UI going round the public API
    ("ui/render.py", "from rag.types import Answer", "ui.render -> rag.types"),
    # a stage that is not the composition root importing the UI
    ("rag/answer/answerer.py", "import ui.app", "rag.answer.answerer -> ui.app"),
    # a command module other than rag.cli.serve, the one the contract lets import the UI and the eval
    ("rag/cli/answer.py", "import ui.app", "rag.cli.answer -> ui.app"),
    # the product importing test support code
    ("eval/gate.py", "import testing.fakes", "eval.gate -> testing.fakes"),
])
def test_a_forbidden_import_breaks_the_contract(project_copy: Path, module: str, line: str, reported: str):
    path = project_copy / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # added by the test\n", encoding="utf-8")
    run = lint_imports(project_copy)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "BROKEN" in run.stdout and reported in run.stdout, run.stdout


def _type_checking_imports(tree: ast.Module) -> dict[str, str]:
    """Public name -> module, from the `if TYPE_CHECKING:` block of rag/__init__.py."""
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module, ast.dump(imp)
                names.update({alias.asname or alias.name: imp.module for alias in imp.names})
    return names


def test_the_public_api_declares_what_it_loads():
    """rag/__init__.py loads its exports with import_module(), which no static graph sees; its TYPE_CHECKING
    block names the same modules, so the contract sees what `from rag import X` really loads."""
    import rag

    tree = ast.parse((ROOT / "rag" / "__init__.py").read_text(encoding="utf-8"))
    assert _type_checking_imports(tree) == rag._EXPORTS


def test_no_public_name_is_also_a_stage():
    """Importing rag.X sets the attribute X of `rag` to the submodule, so a public name equal to a submodule's
    name would make `from rag import X` return the module whenever rag.X was imported first (it did, for
    `ingest`, before the package was named rag.ingestion)."""
    import pkgutil

    import rag

    stages = {info.name for info in pkgutil.iter_modules(rag.__path__)}
    assert stages, "no stage found under rag/"
    assert not stages & set(rag._EXPORTS)
