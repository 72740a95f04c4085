"""minigan.train.parts: what a run is built from; here, the memory check made before the networks are built."""
import pytest

import minigan as mg
from minigan.train import parts


@pytest.mark.parametrize("model", ["dcgan", "mlp"])
@pytest.mark.parametrize("width", [None, 1, 5, 200])
def test_init_bytes_counts_the_weights_and_their_float64_draws(model, width):
    G, D = mg.models.build(model, z_dim=37, rng=0, width=width)
    params = sum(p.data.size for net in (G, D) for p in net.parameters())
    assert parts.init_bytes(model, 37, width) == 12 * params


@pytest.mark.parametrize("model", ["dcgan", "mlp"])
def test_the_default_width_is_the_builders_own(model):
    """Checkpoints saved before --width existed are rebuilt at MODEL_DEFAULTS' width: it must be the builder's."""
    own = [p.data.shape for net in mg.models.build(model, rng=0) for p in net.parameters()]
    width = mg.train.config.MODEL_DEFAULTS[model]["width"]
    assert own == [p.data.shape for net in mg.models.build(model, rng=0, width=width) for p in net.parameters()]


def test_networks_larger_than_the_memory_are_refused_before_they_are_built(monkeypatch):
    monkeypatch.setattr(parts, "physical_memory", lambda: 10**9)      # 1 GB; z_dim 200,000 needs 15 GB
    real_build, sizes = mg.models.build, []
    monkeypatch.setattr(mg.models, "build", lambda name, z_dim=100, **k: sizes.append(z_dim) or real_build(name, z_dim, **k))
    with pytest.raises(mg.errors.ConfigError, match="200000 makes the dcgan networks too large"):
        parts.build_models(mg.train.TrainConfig(z_dim=200_000))
    assert max(sizes) == 2                                               # only the tiny builds of init_bytes


def test_networks_too_wide_for_the_memory_are_refused_naming_width(monkeypatch):
    monkeypatch.setattr(parts, "physical_memory", lambda: 10**9)      # 1 GB; width 4096 needs about 28 GB
    with pytest.raises(mg.errors.ConfigError, match="width 4096 makes the dcgan networks too large.*--width"):
        parts.build_models(mg.train.TrainConfig(width=4096).validate())
    assert parts.init_bytes("dcgan", 400_000, 1) < 10**9                # narrow enough for a long z: not refused


def test_physical_memory_is_a_positive_number():
    assert parts.physical_memory() > 0
