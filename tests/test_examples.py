"""The examples run and say what they claim."""
import importlib.util
import pathlib

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_loss_gradients_curves_show_the_saturation():
    module = _load("loss_gradients")
    curves = module.generator_curves(np.array([-10.0, 0.0, 10.0]))
    assert set(curves) == {"minimax", "nonsaturating", "lsgan", "hinge", "wasserstein"}
    minimax_grad, nonsat_grad = curves["minimax"][1], curves["nonsaturating"][1]
    assert abs(minimax_grad[0]) < 1e-4 and abs(nonsat_grad[0]) > 0.9999     # D(G(z)) ~ 4.5e-5
    np.testing.assert_allclose(curves["lsgan"][1], [-11.0, -1.0, 9.0])


def test_loss_gradients_writes_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "fig.png"
    _load("loss_gradients").main(["--out", str(out)])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
    printed = capsys.readouterr().out
    assert "| 0.01 | 0.01 | 0.99 |" in printed
