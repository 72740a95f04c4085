"""A conditional run end to end: training with labels, resume, the grid, generate/sample --digit, eval.

The layers are tested in tests/nn/test_conditional.py, the scores in tests/metrics/test_conditional_metrics.py.
"""
import json

import numpy as np
import pytest
from PIL import Image

import minigan as mg
import minigan.cli  # noqa: F401
import minigan.errors  # noqa: F401
from minigan.train import TrainConfig, resume, train
from minigan.train.sampling import balanced_labels, rows_per_class


def _quiet(*_):
    pass


def _config(tmp_path, name, **overrides):
    settings = dict(model="mlp", conditional=True, epochs=2, batch_size=16, limit=64, out=str(tmp_path / name),
                    log_every=100, n_samples=20, eval_n=0)
    settings.update(overrides)
    return TrainConfig(**settings)


def _size(path):
    with Image.open(path) as picture:
        return picture.size


def _weights(result):
    return {**{"G/" + k: v for k, v in result["G"].state_dict().items()},
            **{"D/" + k: v for k, v in result["D"].state_dict().items()}}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A conditional mlp checkpoint, trained a few steps."""
    tmp_path = tmp_path_factory.mktemp("conditional")
    return train(_config(tmp_path, "run", epochs=1), log=_quiet)["checkpoint"]


def test_a_conditional_run_with_every_extra_resumes_bit_identical(tmp_path):
    settings = dict(model="dcgan", r1=1.0, augment="all", spectral_norm="D", batch_size=8, limit=32)
    straight = train(_config(tmp_path, "straight", **settings), log=_quiet)
    stopped = train(_config(tmp_path, "split", max_steps=5, **settings), log=_quiet)
    resumed = resume(stopped["checkpoint"], log=_quiet)
    ws, wr = _weights(straight), _weights(resumed)
    assert ws["G/0.0.E"].shape == (10, 10) and ws["D/5.1.E"].shape == (10, 128 * 7 * 7)   # no BatchNorm with R1
    for k in ws:
        assert np.array_equal(ws[k], wr[k]), k
    with pytest.raises(mg.errors.ConfigError, match="conditional cannot change when resuming"):
        resume(resumed["checkpoint"], {"conditional": False, "epochs": 3}, log=_quiet)


def test_the_labels_change_the_run_and_the_grid_has_a_row_per_digit(tmp_path):
    plain = train(_config(tmp_path, "plain", conditional=False, epochs=1), log=_quiet)
    conditional = train(_config(tmp_path, "conditional", epochs=1), log=_quiet)
    assert "G/0.0.E" in _weights(conditional) and "G/0.0.E" not in _weights(plain)
    width, height = _size(conditional["out"] / "samples.png")        # 10 rows of 2 (n_samples 20)
    assert height > 4 * width


def test_balanced_labels_and_rows_per_class():
    assert balanced_labels(7, 3).tolist() == [0, 0, 0, 1, 1, 2, 2]
    drawn = balanced_labels(64, 10, np.random.default_rng(0))
    assert sorted(np.bincount(drawn)) == [6] * 6 + [7] * 4
    labels, per_row = rows_per_class(64, 10)
    assert per_row == 7 and labels.tolist() == sum(([d] * 7 for d in range(10)), [])


def test_generate_draws_the_digits_asked_for(checkpoint):
    sevens = mg.train.generate(checkpoint, 5, seed=1, labels=7)
    same = mg.train.generate(checkpoint, 5, seed=1, labels=np.full(5, 7))
    others = mg.train.generate(checkpoint, 5, seed=1, labels=np.arange(5))
    assert sevens.shape == (5, 1, 28, 28) and np.array_equal(sevens, same) and not np.array_equal(sevens, others)


@pytest.mark.parametrize("labels, message", [
    (10, "generate: labels must lie in 0..9 (the classes this generator knows), got 10"),
    (-1, "generate: labels must lie in 0..9"),
    (np.arange(4), "generate: labels must be one per image, 5, got 4"),
    ("7", "generate: labels must be an int or a 1-D array of ints, got str '7'"),
    (2**70, "generate: labels must lie in 0..9 (the classes this generator knows), got 1180591620717411303424"),
    (np.array(7), None),
    (np.ones(5), "generate: labels must be an int or a 1-D array of ints"),
])
def test_generate_names_a_bad_label(checkpoint, labels, message):
    if message is None:                                       # a 0-d int array is an int
        assert mg.train.generate(checkpoint, 5, labels=labels).shape == (5, 1, 28, 28)
        return
    with pytest.raises(mg.errors.ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        mg.train.generate(checkpoint, 5, labels=labels)


def test_labels_asked_of_an_unconditional_generator_are_refused(tmp_path):
    plain = train(_config(tmp_path, "plain", conditional=False, epochs=1), log=_quiet)["checkpoint"]
    with pytest.raises(mg.errors.ConfigError, match="labels were given, but this generator is not conditional"):
        mg.train.generate(plain, 5, labels=3)
    with pytest.raises(mg.errors.ConfigError, match="sample: digit asks for a digit, but this generator is not"):
        mg.train.sample(plain, 5, out=str(tmp_path / "s.png"), digit=3)


def test_sample_draws_one_digit_or_a_row_per_digit(checkpoint, tmp_path):
    one = mg.train.sample(checkpoint, 9, out=str(tmp_path / "seven.png"), digit=7)
    rows = mg.train.sample(checkpoint, 20, out=str(tmp_path / "all.png"), digit="all")
    walks = mg.train.sample(checkpoint, 20, out=str(tmp_path / "walks.png"), digit="all", interpolate_steps=4)
    sizes = [_size(paths[0]) for paths in (one, rows, walks)]
    assert sizes[0][0] == sizes[0][1]                                # 3 x 3
    assert sizes[1][1] > 4 * sizes[1][0]                             # 10 rows of 2
    assert sizes[2][1] > 2 * sizes[2][0]                             # 10 rows of 4
    with pytest.raises(mg.errors.ConfigError, match="sample: digit must be 0 to 9 or all, got 12"):
        mg.train.sample(checkpoint, 4, out=str(tmp_path / "x.png"), digit=12)


def test_the_data_must_hold_labels_0_to_9(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    mg.data.write_idx(data / "train-images-idx3-ubyte", rng.integers(0, 255, (40, 28, 28), dtype=np.uint8))
    mg.data.write_idx(data / "train-labels-idx1-ubyte", np.array([3] * 39 + [11], np.uint8))
    with pytest.raises(mg.errors.ConfigError, match="conditional needs labels 0 to 9, but the data's label file holds 11"):
        train(_config(tmp_path, "run", data=str(data)), log=_quiet)
    mg.data.write_idx(data / "train-labels-idx1-ubyte", (np.arange(40) % 9).astype(np.uint8))   # no 9
    with pytest.raises(mg.errors.ConfigError, match="needs images of every class, but the data hold none of 9"):
        train(_config(tmp_path, "run", data=str(data)), log=_quiet)
    assert not (tmp_path / "run").exists()


def test_eval_and_per_epoch_scores_report_the_asked_for_digit(checkpoint, tmp_path, capsys):
    assert mg.cli.main(["eval", "--checkpoint", str(checkpoint), "--n", "100", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 0.0 <= result["agreement"] <= 1.0 and len(result["agreement_per_class"]) == 10
    assert len(result["intra_fid_per_class"]) == 10 and result["intra_fid"] > 0
    assert mg.cli.main(["eval", "--checkpoint", str(checkpoint), "--n", "100"]) == 0
    table = capsys.readouterr().out
    assert "asked-for digit" in table and "intra-FID" in table and "  per digit" in table
    scored = train(_config(tmp_path, "scored", epochs=1, eval_n=50), log=_quiet)
    records = [json.loads(line) for line in (scored["out"] / "metrics.jsonl").read_text().splitlines()]
    assert {"agreement", "agreement_per_class", "intra_fid"} <= set(records[-1])
    logged = []
    train(_config(tmp_path, "ten", epochs=1, eval_n=10), log=logged.append)    # one sample per digit: no intra-FID
    assert any("| intra-FID - |" in line for line in logged)


def test_the_cli_flag_and_digit_option(checkpoint, tmp_path, capsys):
    assert mg.cli.main(["sample", "--checkpoint", str(checkpoint), "--digit", "all", "--n", "10",
                        "--out", str(tmp_path / "all.png")]) == 0
    assert (tmp_path / "all.png").exists()
    assert mg.cli.main(["sample", "--checkpoint", str(checkpoint), "--digit", "seven",
                        "--out", str(tmp_path / "x.png")]) == 2
    assert "minigan sample: --digit must be 0 to 9 or all, got 'seven'" in capsys.readouterr().err
