"""The evaluator classifier: accurate, reproducible, saved and loaded whole, bad files named."""
import numpy as np
import pytest

import minigan as mg
from minigan.metrics.classifier import ClassifierError, build, load, shift, train_classifier


def test_the_shipped_classifier_is_accurate_on_its_held_out_digits():
    judge = load()
    x, y = mg.data.load_mnist()
    assert len(judge.heldout) == 1000 and judge.accuracy >= 0.97
    assert np.array_equal(np.bincount(y[judge.heldout]), [100] * 10)
    accuracy = (judge.predict(x[judge.heldout]).argmax(axis=1) == y[judge.heldout]).mean()
    assert accuracy == pytest.approx(judge.accuracy)
    assert judge.embed(x[:3]).shape == (3, 128) and judge.predict(x[:3]).sum(axis=1) == pytest.approx(1.0)


def test_training_is_reproducible_and_round_trips(tmp_path):
    a = train_classifier(epochs=1, heldout=4900, seed=5, log=lambda *_: None)
    b = train_classifier(epochs=1, heldout=4900, seed=5, log=lambda *_: None)
    for (k, va), vb in zip(a.features.state_dict().items(), b.features.state_dict().values()):
        assert np.array_equal(va, vb), k
    a.save(tmp_path / "c.npz")
    c = load(tmp_path / "c.npz")
    assert np.array_equal(c.heldout, a.heldout) and c.accuracy == a.accuracy
    x = mg.data.load_mnist(limit=20)[0]
    np.testing.assert_array_equal(c.predict(x), a.predict(x))


def test_bad_classifier_files_are_named(tmp_path):
    (tmp_path / "x.npz").write_bytes(b"junk")
    with pytest.raises(ClassifierError, match="x.npz: not a readable minigan classifier"):
        load(tmp_path / "x.npz")
    features, head = build()
    np.savez(tmp_path / "y.npz", heldout=np.arange(3), meta=np.array('{"format": "other"}'))
    with pytest.raises(ClassifierError, match="y.npz: not a minigan classifier"):
        load(tmp_path / "y.npz")
    with pytest.raises(ClassifierError, match="gone.npz: no such classifier file"):
        load(tmp_path / "gone.npz")


def test_a_training_checkpoint_given_as_a_classifier_is_named_as_one(tmp_path):
    G, D = mg.models.build("mlp", rng=0)
    mg.train.checkpoint.save_generator(tmp_path / "g.npz", G, {"config": {"model": "mlp"}, "epoch": 0, "batch": 0,
                                                          "step": 0})
    with pytest.raises(ClassifierError, match="g.npz: a checkpoint of minigan train, not a classifier"):
        load(tmp_path / "g.npz")


def test_shift_moves_whole_images_and_fills_with_background(rng):
    x = np.zeros((50, 1, 6, 6), np.float32)
    x[:, 0, 2:4, 2:4] = 1.0
    moved = shift(x, rng, max_shift=2)
    assert moved.shape == x.shape and np.all(moved.sum(axis=(1, 2, 3)) == 4.0)
    assert not np.array_equal(moved, x)


def test_a_save_that_fails_midway_leaves_the_old_classifier_whole(tmp_path, monkeypatch):
    path = tmp_path / "judge.npz"
    load().save(path)
    before = path.read_bytes()

    def torn(f, **arrays):                       # half a file, then the process dies (a kill -9 mid-save)
        f.write(before[: len(before) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", torn)
    with pytest.raises(KeyboardInterrupt):
        load().save(path)
    assert path.read_bytes() == before and load(path).heldout.size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["judge.npz"]


def test_a_save_replaces_a_link_instead_of_writing_through_it(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    (tmp_path / "judge.npz.tmp").symlink_to(target)
    load().save(tmp_path / "judge.npz")
    assert target.read_text() == "keep me" and load(tmp_path / "judge.npz").heldout.size > 0


def test_a_classifier_whose_data_changed_is_refused_in_one_line(tmp_path):
    images, labels = mg.data.load_mnist(limit=200)
    folder = tmp_path / "digits"
    folder.mkdir()
    mg.data.write_idx(folder / "train-images-idx3-ubyte", (images[:, 0] * 255).round().astype(np.uint8))
    mg.data.write_idx(folder / "train-labels-idx1-ubyte", labels.astype(np.uint8))
    judge = train_classifier(str(folder), epochs=1, heldout=40, log=lambda *_: None)
    judge.save(tmp_path / "judge.npz")
    judge = load(tmp_path / "judge.npz")
    assert judge.fingerprint == mg.data.fingerprint(mg.data.load_mnist(str(folder))[0])
    assert judge.heldout_images().shape == (40, 1, 28, 28)
    mg.data.write_idx(folder / "train-images-idx3-ubyte", (images[:50, 0] * 255).round().astype(np.uint8))
    mg.data.write_idx(folder / "train-labels-idx1-ubyte", labels[:50].astype(np.uint8))
    with pytest.raises(ClassifierError, match="have changed since: 200 images then, 50 now"):
        judge.heldout_images()


def _digit_folder(path, images, labels):
    path.mkdir()
    mg.data.write_idx(path / "train-images-idx3-ubyte", (images[:, 0] * 255).round().astype(np.uint8))
    mg.data.write_idx(path / "train-labels-idx1-ubyte", labels.astype(np.uint8))
    return str(path)


def test_a_classifier_scores_only_runs_on_the_data_it_was_trained_on(tmp_path):
    images, labels = mg.data.load_mnist(limit=200)
    mine = _digit_folder(tmp_path / "mine", images, labels)
    copy = _digit_folder(tmp_path / "copy", images, labels)                  # the same data elsewhere
    other = _digit_folder(tmp_path / "other", images[::-1].copy(), labels[::-1].copy())
    judge = train_classifier(mine, epochs=1, heldout=40, log=lambda *_: None)
    judge.save(tmp_path / "judge.npz")
    judge.check_trained_on(mg.data.load_mnist(copy)[0], copy)
    with pytest.raises(ClassifierError, match=f"it was trained on {mine}, not on {other}"):
        judge.check_trained_on(mg.data.load_mnist(other)[0], other)
    with pytest.raises(mg.errors.ConfigError, match=f"sweep: classifier it was trained on {mine}, not on {other}"):
        mg.sweep.Grid(data=other, classifier=str(tmp_path / "judge.npz")).reference()
    config = mg.train.TrainConfig(model="mlp", epochs=1, data=other, classifier=str(tmp_path / "judge.npz"),
                                  eval_n=50, out=str(tmp_path / "run"))
    with pytest.raises(mg.errors.ConfigError, match=f"classifier it was trained on {mine}, not on {other}"):
        mg.train.train(config, log=lambda *_: None)
    assert not (tmp_path / "run").exists()
    assert mg.sweep.Grid(data=copy, classifier=str(tmp_path / "judge.npz")).reference() is not None
