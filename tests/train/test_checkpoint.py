"""Checkpoints: atomic writes that clean up after a failure, checked reads, restores that change all or nothing."""
import errno
import json

import numpy as np
import pytest

import minigan as mg
from minigan.train.checkpoint import CheckpointError, load_checkpoint, restore, save_checkpoint, save_generator


def _state(seed=0):
    G, D = mg.models.build("mlp", z_dim=8, rng=seed)
    return G, D, mg.optim.Adam(G.parameters()), mg.optim.Adam(D.parameters())


def _meta():
    config = mg.train.TrainConfig(model="mlp", z_dim=8).validate()
    import dataclasses
    rng = np.random.default_rng(0)
    return {"config": dataclasses.asdict(config), "epoch": 1, "batch": 0, "step": 4,
            "data_rng": rng.bit_generator.state, "noise_rng": rng.bit_generator.state}


def _weights(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def test_round_trip_and_generator_snapshots(tmp_path):
    G, D, opt_g, opt_d = _state()
    save_checkpoint(tmp_path / "c.npz", G, D, opt_g, opt_d, _meta())
    save_generator(tmp_path / "g.npz", G, _meta())
    G2, D2, opt_g2, opt_d2 = _state(seed=1)
    restore(load_checkpoint(tmp_path / "c.npz"), G2, D2, opt_g2, opt_d2)
    assert all(np.array_equal(a, b) for a, b in zip(G.state_dict().values(), G2.state_dict().values()))
    snapshot = load_checkpoint(tmp_path / "g.npz")
    assert mg.train.checkpoint.is_generator_only(snapshot) and not any(k.startswith("D/") for k in snapshot["arrays"])
    G3, D3, opt_g3, _ = _state(seed=2)
    restore(snapshot, G3)
    assert all(np.array_equal(a, b) for a, b in zip(G.state_dict().values(), G3.state_dict().values()))
    with pytest.raises(CheckpointError, match="holds G alone"):
        restore(snapshot, G3, D3, opt_g3)


def test_a_checkpoint_that_does_not_fit_changes_nothing(tmp_path):
    G, D, opt_g, opt_d = _state()
    save_checkpoint(tmp_path / "c.npz", G, D, opt_g, opt_d, _meta())
    saved = load_checkpoint(tmp_path / "c.npz")
    saved["arrays"]["D/5.W"] = saved["arrays"]["D/5.W"][:3]               # D's last layer does not fit
    G2, D2, opt_g2, opt_d2 = _state(seed=1)
    before_g, before_d, before_m = _weights(G2), _weights(D2), opt_g2.state[0]["m"].copy()
    with pytest.raises(CheckpointError, match="does not fit"):
        restore(saved, G2, D2, opt_g2, opt_d2)
    assert all(np.array_equal(before_g[k], v) for k, v in G2.state_dict().items())   # G was not overwritten
    assert all(np.array_equal(before_d[k], v) for k, v in D2.state_dict().items())
    assert np.array_equal(opt_g2.state[0]["m"], before_m) and opt_g2.t == 0


def test_sequential_load_state_dict_checks_every_entry_first():
    G, _ = mg.models.build("mlp", z_dim=8, rng=0)
    before = _weights(G)
    state = mg.models.build("mlp", z_dim=8, rng=1)[0].state_dict()
    state["4.b"] = np.zeros(3, np.float32)                                   # the last entry is bad
    with pytest.raises(ValueError, match="4.b must have shape"):
        G.load_state_dict(state)
    assert all(np.array_equal(before[k], v) for k, v in G.state_dict().items())


def test_a_failed_save_removes_its_partial_file_and_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    G, D, opt_g, opt_d = _state()
    path = tmp_path / "c.npz"
    save_checkpoint(path, G, D, opt_g, opt_d, _meta())
    good = path.read_bytes()

    def full_disk(f, **arrays):
        f.write(b"partial" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    with pytest.raises(OSError) as info:
        save_checkpoint(path, G, D, opt_g, opt_d, _meta())
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert not (tmp_path / "c.npz.tmp").exists() and path.read_bytes() == good


def test_non_finite_state_is_never_saved(tmp_path):
    G, D, opt_g, opt_d = _state()
    opt_g.state[1]["v"][0] = np.inf
    with pytest.raises(CheckpointError, match=r"non-finite arrays \['opt_g/1/v'\]"):
        save_checkpoint(tmp_path / "c.npz", G, D, opt_g, opt_d, _meta())
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("change, message", [
    (lambda m: m.pop("config"), "config must be a dict"),
    (lambda m: m.update(step=-1), "step must be an int >= 0"),
    (lambda m: m.update(noise_rng=None), "noise_rng must be a dict"),
    (lambda m: m.update(format="other"), "unknown checkpoint format 'other'"),
])
def test_malformed_metadata_is_named(tmp_path, change, message):
    G, D, opt_g, opt_d = _state()
    save_checkpoint(tmp_path / "c.npz", G, D, opt_g, opt_d, _meta())
    saved = load_checkpoint(tmp_path / "c.npz")
    meta = saved["meta"]
    change(meta)
    np.savez(tmp_path / "bad.npz", **saved["arrays"], meta=np.array(json.dumps(meta)))
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(tmp_path / "bad.npz")


def test_unknown_settings_in_a_saved_config_are_named(tmp_path):
    G, D, opt_g, opt_d = _state()
    meta = _meta()
    meta["config"]["colour"] = "blue"
    save_checkpoint(tmp_path / "c.npz", G, D, opt_g, opt_d, meta)
    with pytest.raises(CheckpointError, match=r"malformed config: .*\['colour'\]"):
        mg.train.checkpoint.config_of(load_checkpoint(tmp_path / "c.npz"))


def test_every_single_bit_flip_in_the_headers_is_a_good_load_or_a_checkpoint_error(tmp_path):
    """A flipped bit in the zip's structures or an array's header (where the parsers are) never escapes as
    another exception: the file loads whole (the zip's CRC guards the data), or it is a CheckpointError."""
    G, D, opt_g, opt_d = _state()
    good = tmp_path / "c.npz"
    save_generator(good, G, _meta())
    raw = bytearray(good.read_bytes())
    places = set(range(64)) | set(range(len(raw) - 200, len(raw)))          # the first header, the directory
    for start in [i for i in range(len(raw)) if raw[i:i + 6] == b"\x93NUMPY"]:
        places |= set(range(max(0, start - 40), min(len(raw), start + 120)))  # a member's header, its array's
    rng = np.random.default_rng(0)
    flips = sorted(rng.choice(sorted(places), size=min(600, len(places)), replace=False))
    outcomes = {"loaded": 0, "refused": 0}
    bad = tmp_path / "flipped.npz"
    for i in flips:
        damaged = bytearray(raw)
        damaged[i] ^= 1 << int(rng.integers(8))
        bad.write_bytes(bytes(damaged))
        try:
            load_checkpoint(bad)
            outcomes["loaded"] += 1
        except CheckpointError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0 and sum(outcomes.values()) == len(flips)


def test_a_crafted_data_order_is_refused_on_resume(tmp_path):
    config = mg.train.TrainConfig(model="mlp", epochs=2, batch_size=16, limit=64, out=str(tmp_path / "run"),
                                  eval_n=0, max_steps=5, log_every=100)
    stopped = mg.train.train(config, log=lambda *_: None)
    saved = dict(np.load(stopped["checkpoint"], allow_pickle=False))
    saved["perm"] = np.zeros_like(saved["perm"])                     # every batch the first image
    np.savez(stopped["checkpoint"], **saved)
    with pytest.raises(CheckpointError, match=r"its data order \(perm\) is not an order of the 64 training images"):
        mg.train.resume(stopped["checkpoint"], log=lambda *_: None)


def test_a_member_declaring_more_than_the_free_memory_is_refused_before_it_is_read(tmp_path, monkeypatch):
    import tracemalloc
    import zipfile
    G, D, opt_g, opt_d = _state()
    path = tmp_path / "c.npz"
    save_checkpoint(path, G, D, opt_g, opt_d, _meta())
    size = path.stat().st_size
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:   # 64 MiB of zeros, deflated
        with archive.open("bomb.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "|u1", "fortran_order": False, "shape": (64 << 20,)})
            for _ in range(64):
                member.write(bytes(1 << 20))
    assert path.stat().st_size - size < 1 << 20
    monkeypatch.setattr("minigan.data.memory.available_memory", lambda: 32 << 20)
    tracemalloc.start()
    with pytest.raises(CheckpointError, match=r"c.npz: not a readable minigan checkpoint \(ValueError: its members "
                                              r"declare 7\d.\d MB of arrays, more than the 33.6 MB of memory available\)"):
        load_checkpoint(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 << 20


def test_a_member_whose_header_declares_more_than_it_holds_is_refused_before_it_is_allocated(tmp_path):
    import zipfile
    G, D, opt_g, opt_d = _state()
    path = tmp_path / "c.npz"
    save_checkpoint(path, G, D, opt_g, opt_d, _meta())
    with zipfile.ZipFile(path, "a") as archive:                                    # 9 TiB declared, 8 bytes held
        with archive.open("lie.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False,
                                                          "shape": (10 ** 12 + 1,)})
            member.write(bytes(8))
    with pytest.raises(CheckpointError, match=r"c.npz: not a readable minigan checkpoint \(ValueError: its member "
                                              r"lie.npy declares an array of shape \(1000000000001,\) \(float64\), "
                                              r"larger than the member's \d+ bytes\)"):
        load_checkpoint(path)
