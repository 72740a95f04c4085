"""The tuning study: every (setting, seed) trained and scored, divergence and collapse marked, three outputs."""
import csv
import os
import pathlib
import sys
import time

import pytest

import minigan as mg
from minigan.sweep import Grid, Setting, markdown, quick_grid, run_sweep, summarise


@pytest.mark.slow
def test_a_tiny_sweep_writes_its_table_csv_and_heatmap(tmp_path):
    grid = Grid(losses=("nonsaturating",), lr_scales=(1.0, 1e10), beta1s=(0.5,), seeds=2, epochs=1, limit=64)
    lines = []
    rows = run_sweep(grid, tmp_path, log=lines.append)
    assert len(rows) == 4 and len(lines) == 4
    assert [r["status"] for r in rows[2:]] == ["diverged", "diverged"]
    assert all(r["status"] in ("ok", "collapsed") and r["fid"] > 0 for r in rows[:2])
    with open(tmp_path / "sweep.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["seed"] for r in table] == ["0", "1", "0", "1"] and table[2]["fid"] == ""
    text = (tmp_path / "sweep.md").read_text()
    assert "| nonsaturating | 1e+10 | 1 | 0.5 | 1 | 0 | - | - | - | - | 0 | 0 | 0 | 2 |" in text
    assert mg.train.plots.load_png(tmp_path / "sweep.png").shape[0] > 100
    assert (tmp_path / "nonsaturating-lr1x-b0.5-d1-seed1" / "checkpoint.npz").exists()
    assert float(table[0]["lr_g"]) == 1e-3 and float(table[0]["lr_d"]) == 2e-4        # the mlp's defaults


def test_summary_is_the_median_and_range_over_seeds_and_the_fewest_digits():
    rows = [dict(loss="hinge", lr_scale=1.0, g_lr_ratio=1.0, beta1=0.5, d_steps=1, seed=s, status=st, fid=f,
                 coverage=c)
            for s, st, f, c in [(0, "ok", 30.0, 10), (1, "collapsed", 90.0, 4), (2, "ok", 40.0, 9)]]
    s = summarise(rows)[Setting("hinge", 1.0, 1.0, 0.5, 1)]
    assert (s["fid"], s["fid_range"], s["coverage"], s["ok"], s["collapsed"]) == (40.0, (30.0, 90.0), 4, 2, 1)
    assert "| hinge | 1 | 1 | 0.5 | 1 | 0 | - | - | 40.0 | 30.0-90.0 | 4 | 2 | 1 | 0 |" in markdown(rows, Grid(seeds=3))


def test_every_cell_of_a_grid_is_a_valid_config():
    for setting in Grid().settings():
        Grid().config(setting, seed=1, out="x")
    with pytest.raises(mg.errors.ConfigError, match="lr_g"):
        Grid(lr_scales=(-1.0,)).config(Setting("hinge", -1.0, 1.0, 0.5, 1), seed=0, out="x")


@pytest.mark.parametrize("model", ["mlp", "dcgan"])
def test_the_quick_grid_trains_with_the_trainers_defaults_for_the_model(model):
    grid = quick_grid(model)
    trainer = mg.train.TrainConfig(model=model).validate()
    for setting in grid.settings():
        config = grid.config(setting, seed=0, out="-")
        assert (config.lr_g, config.lr_d, config.batch_size, config.ema) == (trainer.lr_g, trainer.lr_d,
                                                                             trainer.batch_size, trainer.ema)
    assert len(grid.settings()) == len(grid.losses) == 5


def test_a_grids_runs_keep_no_weight_average_unless_asked_whatever_the_trainers_default():
    setting = Setting("nonsaturating", 2.0, 4.0, 0.5, 1)
    assert Grid(model="dcgan").config(setting, seed=0, out="x").ema == 0.0
    assert Grid(model="dcgan", ema=0.99).config(setting, seed=0, out="x").ema == 0.99
    with pytest.raises(mg.errors.ConfigError, match="sweep: ema must be in"):
        Grid(model="dcgan", ema=1.5).check()


def test_g_lr_ratios_change_only_the_generators_rate():
    grid = Grid(model="dcgan", losses=("nonsaturating",), lr_scales=(2.0,), g_lr_ratios=(1.0, 2.0), beta1s=(0.5,))
    configs = [grid.config(setting, seed=0, out="x") for setting in grid.settings()]
    assert [(c.lr_g, c.lr_d) for c in configs] == [(4e-4, 4e-4), (8e-4, 4e-4)]


def test_each_run_is_the_minigan_train_command_of_its_config():
    import minigan.cli
    from minigan.sweep import _command
    config = Grid(limit=64).config(Setting("hinge", 2.0, 1.5, 0.9, 3), seed=1, out="runs/x")
    args = _command(config, "numpy")
    parsed = minigan.cli.build_parser().parse_args(args[6:])
    settings = {k: getattr(parsed, k) for k in config.__dataclass_fields__ if hasattr(parsed, k)}
    assert mg.train.config.TrainConfig(**dict(settings, backend="numpy")) == config


def test_the_grid_can_hold_r1_weights_and_wgan_gp():
    grid = Grid(losses=("nonsaturating", "wgan-gp"), r1s=(0.0, 10.0), lr_scales=(1.0,), beta1s=(0.5,))
    settings = grid.settings()
    assert len(settings) == 4 and Setting("nonsaturating", 1.0, 1.0, 0.5, 1, 10.0) in settings
    config = grid.config(Setting("nonsaturating", 1.0, 1.0, 0.5, 1, 10.0), seed=0, out="x")
    assert config.r1 == 10.0 and config.penalised
    assert grid.config(Setting("wgan-gp", 1.0, 1.0, 0.5, 1), seed=0, out="x").gp == 10.0
    sn = Grid(spectral_norms=("", "D")).settings()
    assert {s.spectral_norm for s in sn} == {"", "D"}
    assert Grid().config(Setting("hinge", 1.0, 1.0, 0.5, 1, 0.0, "D"), seed=0, out="x").spectral_norm == "D"
    assert Grid().config(Setting("hinge", 1.0, 1.0, 0.5, 1, 0.0, "", "all"), seed=0, out="x").augment_ops == \
        mg.nn.augment.OPERATIONS


def test_augment_ps_multiply_only_the_cells_with_augmentation(tmp_path):
    grid = Grid(losses=("hinge",), lr_scales=(1.0,), beta1s=(0.5,), augments=("", "translation"), augment_ps=(1.0, 0.2))
    grid.check()
    settings = grid.settings()
    assert [(s.augment, s.augment_p) for s in settings] == [("", 1.0), ("translation", 1.0), ("translation", 0.2)]
    assert grid.columns() == [tuple(s[1:]) for s in settings]
    config = grid.config(settings[2], seed=0, out="x")
    assert config.augment_ops == ("translation",) and config.augment_p == 0.2
    assert mg.sweep._name(settings[2]).endswith("-aug-translation-p0.2")
    rows = [dict(s._asdict(), seed=0, status="ok", fid=100.0 + i, coverage=10) for i, s in enumerate(settings)]
    table = markdown(rows, grid)
    assert "| translation, p 0.2 | 102.0 |" in table and "| translation | 101.0 |" in table
    mg.sweep.heatmap(rows, grid, tmp_path / "sweep.png")
    assert mg.train.plots.load_png(tmp_path / "sweep.png").shape[1] > 100


def test_a_sweeps_runs_start_the_sweeps_own_minigan_not_one_in_the_current_folder(tmp_path):
    import subprocess
    import sys
    from minigan.sweep import _command
    planted = tmp_path / "minigan"
    planted.mkdir()
    (planted / "__init__.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\n")
    (planted / "__main__.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\n")
    config = Grid(limit=64).config(Setting("hinge", 1.0, 1.0, 0.5, 1), seed=0, out=str(tmp_path / "run"))
    args = _command(config, "numpy")
    assert args[:2] == [sys.executable, "-I"]
    done = subprocess.run(args[:6] + ["--version"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0 and done.stdout.strip() == f"minigan {mg.__version__}", done.stderr
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize("grid, message", [
    (Grid(lr_scales=(-1.0,)), "sweep: lr_scales must be"),
    (Grid(g_lr_ratios=(-2.0,)), "sweep: g_lr_ratios must be"),
    (Grid(losses=("hinge", "hinge")), "sweep: losses lists 'hinge' twice"),
    (Grid(r1s=(-1.0,)), "sweep: r1s must be"),
    (Grid(augments=("", "all"), augment_ps=(1.5,)), r"sweep: augment_ps must be probabilities in \[0, 1\], got 1.5"),
    (Grid(augments=("",), augment_ps=(2.0,)), "sweep: augment_ps must be probabilities"),
    (Grid(augment_ps=(0.5,)), "sweep: augment_ps apply to an augmentation: give --augments too"),
    (Grid(augments=("all",), augment_ps=(0.1234561, 0.1234562)), r"sweep: augment_ps holds 0.1234561 and 0.1234562, "
                                                                  r"which give their runs one folder name"),
    (Grid(lr_scales=(1.0, 1.0000001)), "sweep: lr_scales holds 1.0 and 1.0000001"),
])
def test_a_bad_grid_names_the_sweeps_option(grid, message):
    with pytest.raises(mg.errors.ConfigError, match=message):
        grid.check()


def test_the_grid_passes_its_data_and_conditional_mode_to_every_run(tmp_path):
    grid = Grid(data=str(tmp_path), classifier="c.npz", conditional=True, losses=("hinge",), beta1s=(0.5,))
    for setting in grid.settings():
        config = grid.config(setting, seed=0, out="x")
        assert (config.data, config.conditional, config.eval_n) == (str(tmp_path), True, 0)
    assert grid.describe() == f"mlp, conditional, on {tmp_path}" and Grid().describe() == "mlp"
    assert markdown([], grid).startswith(f"mlp, conditional, on {tmp_path}, 20 epochs")


def test_data_other_than_mnist_needs_a_classifier_and_bad_data_is_refused_before_the_folder(tmp_path):
    with pytest.raises(mg.errors.ConfigError, match="sweep: classifier is needed with --data other than mnist"):
        Grid(data="fashion-mnist").check()
    shipped = str(pathlib.Path(mg.metrics.__file__).parent / "mnist-classifier.npz")
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        run_sweep(Grid(data=str(tmp_path / "missing"), classifier=shipped), tmp_path / "out")
    labels = mg.data.load_mnist()[1]
    mg.data.write_idx(tmp_path / "train-images-idx3-ubyte", (mg.data.load_mnist()[0][:, 0] * 255).astype("uint8"))
    mg.data.write_idx(tmp_path / "train-labels-idx1-ubyte", (labels % 9).astype("uint8"))    # no nines
    with pytest.raises(mg.errors.ConfigError, match="sweep: conditional needs images of every class"):
        run_sweep(Grid(data=str(tmp_path), classifier=shipped, conditional=True), tmp_path / "out")
    with pytest.raises(mg.errors.ConfigError, match="sweep: classifier .*c.npz"):    # named before the data
        run_sweep(Grid(data=str(tmp_path / "missing"), classifier=str(tmp_path / "c.npz")), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_run_stops_when_its_sweep_is_killed_with_kill_9(tmp_path):
    """The sweep's stand-in starts a child that asks to stop with its parent, then is killed with SIGKILL."""
    import signal
    import subprocess
    sweep_code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import os, sys, time; "
        "from minigan.sweep.child import stop_with_parent; stop_with_parent(int(sys.argv[1])); "
        "print(os.getpid(), flush=True); time.sleep(60)', str(__import__(\"os\").getpid())], stdout=sys.stdout)\n"
        "time.sleep(60)\n")
    sweep = subprocess.Popen([sys.executable, "-c", sweep_code], stdout=subprocess.PIPE, text=True)
    try:
        child = int(sweep.stdout.readline())
        sweep.send_signal(signal.SIGKILL)
        sweep.wait(timeout=10)
        for _ in range(100):                                     # the child gets SIGTERM and ends
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(child, signal.SIGKILL)
            pytest.fail("the sweep's child outlived it")
    finally:
        sweep.stdout.close()
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()
