"""The layering contract in pyproject.toml: kept by the package, broken by a planted upward import.

import-linter (the test extra) reads the contract; each layer of minigan may import only the
layers below it, so the layers know nothing of training and the library nothing of the command line.
"""
import pathlib
import shutil
import subprocess
import sys

import pytest

import minigan

pytest.importorskip("importlinter")
tomllib = pytest.importorskip("tomllib", reason="Python 3.11's TOML reader reads the contract")

PACKAGE = pathlib.Path(minigan.__file__).resolve().parent
PYPROJECT = PACKAGE.parent / "pyproject.toml"


def _contract():
    if not PYPROJECT.exists():
        pytest.skip("minigan is not run from its source tree (no pyproject.toml beside the package)")
    return tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]


def _lint(root):
    """(exit code, output) of import-linter on the copy of minigan (and its pyproject.toml) in ``root``."""
    command = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; "
               "sys.exit(c())", "--no-cache", "--no-logo", str(root / "pyproject.toml")]
    done = subprocess.run(command, cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def copy(tmp_path):
    """minigan's source and its pyproject.toml, copied to a folder whose package is the one imported."""
    _contract()
    shutil.copytree(PACKAGE, tmp_path / "minigan", ignore=shutil.ignore_patterns("__pycache__", "*.npz", "*.gz"))
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    return tmp_path


def test_the_package_keeps_its_layers(copy):
    code, output = _lint(copy)
    assert code == 0 and "1 kept, 0 broken" in output, output


@pytest.mark.parametrize("module, upward", [
    ("nn/dense.py", "from ..train import run"),              # a layer that knows of training
    ("backend/__init__.py", "from .. import nn"),            # the backend above the layers
    ("train/run.py", "from .. import sweep"),                # the trainer above the sweep
])
def test_a_planted_upward_import_breaks_the_contract(copy, module, upward):
    path = copy / "minigan" / module
    path.write_text(path.read_text() + f"\n{upward}\n")
    code, output = _lint(copy)
    assert code != 0 and "BROKEN" in output, output


def test_every_module_of_the_package_sits_in_a_layer():
    layers = {name.strip() for layer in _contract()["contracts"][0]["layers"] for name in layer.split("|")}
    modules = {f"minigan.{p.stem if p.is_file() else p.name}" for p in PACKAGE.iterdir()
               if (p.suffix == ".py" and p.stem not in ("__init__", "__main__")) or (p / "__init__.py").exists()}
    assert modules == layers, f"not in a layer: {sorted(modules - layers)}; no such module: {sorted(layers - modules)}"
