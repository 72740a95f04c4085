"""Images from a checkpoint: generate (what sample draws and eval scores), latent walks, and the files."""
import numpy as np
import pytest

import minigan as mg
from minigan.errors import ConfigError
from minigan.train.sampling import generate, interpolate, sample, slerp


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    config = mg.train.TrainConfig(model="mlp", epochs=1, batch_size=16, limit=32, out=str(out), n_samples=4)
    return mg.train.train(config, log=lambda *_: None)["checkpoint"]


def test_generate_is_deterministic_and_matches_the_generator(ckpt):
    a, b = generate(ckpt, 5, seed=3), generate(ckpt, 5, seed=3)
    assert a.shape == (5, 1, 28, 28) and a.dtype == np.float32 and np.array_equal(a, b)
    assert 0.0 <= a.min() and a.max() <= 1.0
    assert not np.array_equal(a, generate(ckpt, 5, seed=4))
    G, z_dim = mg.train.sampling.load_generator(ckpt)
    z = np.random.default_rng(3).standard_normal((5, z_dim)).astype(np.float32)
    np.testing.assert_array_equal(a, G(z))
    np.testing.assert_allclose(generate(ckpt, 300, seed=3)[:5], a, atol=1e-6)   # chunks: BLAS rounding only
    with pytest.raises(ConfigError, match="n must be a positive int"):
        generate(ckpt, 0)


def test_slerp_ends_at_its_endpoints_and_keeps_the_norm_of_orthogonal_unit_vectors():
    z0, z1 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    path = slerp(z0, z1, np.linspace(0, 1, 5))
    np.testing.assert_allclose(path[0], z0, atol=1e-12)
    np.testing.assert_allclose(path[-1], z1, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 1.0)
    np.testing.assert_allclose(slerp(z0, z0, [0.5])[0], z0)


def test_interpolate_and_sample_files(ckpt, tmp_path):
    walk = interpolate(ckpt, rows=2, steps=4)
    assert walk.shape == (8, 1, 28, 28)
    written = sample(ckpt, n=6, out=tmp_path / "a" / "b.png", nrow=3, each=tmp_path / "each")
    assert written[0].exists() and len(list((tmp_path / "each").iterdir())) == 6
    with pytest.raises(ConfigError, match="steps must be an int >= 2"):
        interpolate(ckpt, rows=1, steps=1)


@pytest.mark.parametrize("model", ["dcgan", "mlp"])
def test_a_narrower_run_trains_resumes_and_samples_at_its_width(tmp_path, model):
    quiet = lambda *_: None   # noqa: E731
    config = mg.train.TrainConfig(model=model, width=4, epochs=2, batch_size=8, limit=16, n_samples=4, eval_n=0,
                                  max_steps=3, out=str(tmp_path / "run"))
    stopped = mg.train.train(config, log=quiet)
    done = mg.train.resume(stopped["checkpoint"], log=quiet)
    first_layer_outputs = {"dcgan": 2 * 4 * 7 * 7, "mlp": 4}[model]     # (2 * width) x 7 x 7, or width
    assert done["status"] == "finished" and done["G"].parameters()[0].data.shape[-1] == first_layer_outputs
    G, _ = mg.train.sampling.load_generator(done["checkpoint"])
    assert [p.data.shape for p in G.parameters()] == [p.data.shape for p in done["G"].parameters()]
    assert generate(done["checkpoint"], 2).shape == (2, 1, 28, 28)


def test_a_checkpoint_saved_before_width_existed_builds_the_models_own_width(ckpt):
    saved = mg.train.checkpoint.load_checkpoint(ckpt)
    del saved["meta"]["config"]["width"]
    assert mg.train.checkpoint.config_of(saved).width == 128
