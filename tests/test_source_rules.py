"""Rules the code base keeps: compute paths ask the backend for their array module."""
import ast
import pathlib

import minigan

PACKAGE = pathlib.Path(minigan.__file__).parent
# The host-side edges (the backend itself, the gradient checker's bookkeeping, data loading,
# plotting, the command line) may use NumPy directly; layers, losses, optimizers and the step may not.
COMPUTE_PATHS = ["nn", "losses.py", "optim", "gan/game.py", "train/ema.py", "train/telemetry.py"]


def _python_files():
    for entry in COMPUTE_PATHS:
        path = PACKAGE / entry
        assert path.exists(), f"COMPUTE_PATHS names {entry}, which minigan does not have"
        yield from (sorted(path.rglob("*.py")) if path.is_dir() else [path])


def test_compute_modules_never_import_numpy_or_cupy():
    offenders = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(PACKAGE)}: {n}" for n in names if n.split(".")[0] in ("numpy", "cupy")]
    assert not offenders, "compute code must use backend.xp_of(x) / backend.xp(): " + ", ".join(offenders)


def test_the_rule_sees_the_layer_modules():
    names = {p.name for p in _python_files()}
    assert {"conv.py", "_im2col.py", "batchnorm.py", "dense.py", "activations.py"} <= names


def test_public_api():
    for name in ["nn", "gradcheck", "Parameter", "set_backend", "to_numpy", "set_default_dtype", "__version__"]:
        assert name in minigan.__all__ and hasattr(minigan, name)
    for name in minigan.nn.__all__:
        assert hasattr(minigan.nn, name)
