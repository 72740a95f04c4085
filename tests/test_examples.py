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


@pytest.mark.slow
def test_mnist_gan_example_runs(tmp_path, capsys, monkeypatch):
    import minigan as mg
    full_loader = mg.data.load_mnist
    monkeypatch.setattr(mg.data, "load_mnist", lambda: full_loader(limit=64))
    out = tmp_path / "grid.png"
    _load("mnist_gan").main(["--epochs", "1", "--batch-size", "16", "--out", str(out)])
    assert out.read_bytes()[:4] == b"\x89PNG" and "epoch 1/1 done" in capsys.readouterr().out


@pytest.mark.slow
def test_dcgan_example_runs(tmp_path, capsys, monkeypatch):
    import minigan as mg
    full_config = mg.train.TrainConfig
    monkeypatch.setattr(mg.train, "TrainConfig", lambda **kwargs: full_config(**kwargs, limit=32, log_every=1))
    _load("dcgan_mnist").main(["--epochs", "1", "--batch-size", "16", "--out", str(tmp_path / "run")])
    assert (tmp_path / "run" / "samples.png").exists()
    assert "finished after 2 steps" in capsys.readouterr().out


@pytest.mark.slow
def test_the_tour_notebook_runs_and_shows_what_it_says(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(EXAMPLES / "tour.ipynb", as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == "stdout")
    assert "caught: ForgetfulBatchNorm: gradient check failed for 'x'" in text      # the planted bug
    assert "x      relative error" in text and "fast equals definition: True" in text
    assert "dx = conv_transpose2d(dy, W): True  dW: True" in text
    assert "G: 10 parameter arrays, worst relative error" in text and "finished -> checkpoint.npz" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2                # the loss plot, the samples
    assert not any(o.output_type == "error" for o in outputs)


def _readme_block(heading):
    """The first python code block under ``heading`` in the README."""
    text = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text.split(f"\n{heading}\n", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readmes_own_layer_passes_its_check_and_its_bug_fails_it(capsys):
    exec(compile(_readme_block("## Write your own layer"), "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("{'x': ") and float(printed[0].split(": ")[1].rstrip("}")) < 1e-8
    assert "gradient check failed for 'x' at index" in printed[1]
