"""TrainConfig: every setting checked by name, and the command line's options built from its fields."""
import dataclasses

import pytest

from minigan.train.config import TrainConfig
from minigan.errors import ConfigError


@pytest.mark.parametrize("overrides, field, message", [
    (dict(model="vae"), "model", "must be one of dcgan, mlp"),
    (dict(loss="l1"), "loss", "must be one of"),
    (dict(epochs=0), "epochs", "must be a positive int"),
    (dict(batch_size=True), "batch_size", "must be a positive int"),
    (dict(batch_size=1), "batch_size", "is 1, but the dcgan model's BatchNorm layers"),
    (dict(seed=-1), "seed", "must be an int >= 0"),
    (dict(max_steps=0), "max_steps", "must be a positive int"),
    (dict(limit=0), "limit", "must be a positive int"),
    (dict(lr_d=-1.0), "lr_d", "must be a positive finite number, got -1.0"),
    (dict(lr_g=float("inf")), "lr_g", "must be a positive finite number"),
    (dict(beta1=1.0), "beta1", r"must be in \[0, 1\)"),
    (dict(augment="translation", augment_p=1.5), "augment_p", r"must be a probability in \[0, 1\], got 1.5"),
    (dict(augment="translation", augment_p=float("nan")), "augment_p", r"must be a probability in \[0, 1\]"),
    (dict(augment_p=0.5), "augment_p", "applies to an augmentation: give --augment too"),
    (dict(beta2="0.9"), "beta2", r"must be in \[0, 1\)"),
    (dict(clip_value=0.0), "clip_value", "must be a positive finite number"),
    (dict(real_label=0.0), "real_label", r"must be in \(0, 1\]"),
    (dict(loss="hinge", real_label=0.9), "real_label", "applies to minimax, nonsaturating only"),
    (dict(keep_snapshots=-1), "keep_snapshots", "must be an int >= 0"),
    (dict(backend="jax"), "backend", "must be one of numpy, cupy"),
])
def test_each_bad_setting_is_named(overrides, field, message):
    with pytest.raises(ConfigError, match=message) as info:
        TrainConfig(**overrides).validate()
    assert info.value.field == field and str(info.value).startswith(f"TrainConfig: {field} ")


def test_a_batch_of_one_trains_a_model_without_batchnorm():
    assert TrainConfig(model="mlp", batch_size=1).validate().batch_size == 1


def test_defaults_and_the_models_own_defaults():
    from minigan.train.config import MODEL_DEFAULTS
    for model, defaults in MODEL_DEFAULTS.items():
        config = TrainConfig(model=model).validate()
        assert all(getattr(config, k) == v for k, v in defaults.items())
    assert TrainConfig(model="mlp", lr_g=5e-4).validate().lr_g == 5e-4


def test_every_field_has_help():
    for field in dataclasses.fields(TrainConfig):
        assert field.metadata["help"].endswith("."), field.name


def test_changes_and_from_dict():
    a, b = TrainConfig(), TrainConfig(lr_d=1e-4, epochs=3)
    assert b.changes_from(a) == {"lr_d": (None, 1e-4), "epochs": (15, 3)}
    assert TrainConfig.from_dict(dataclasses.asdict(b)).lr_d == 1e-4
    with pytest.raises(ValueError, match=r"does not know: \['colour'\]"):
        TrainConfig.from_dict({"colour": "blue"})


def test_loss_defaults_come_before_the_models_and_the_users_win():
    c = TrainConfig(loss="wgan-gp").validate()
    assert (c.lr_g, c.lr_d, c.beta1, c.beta2, c.d_steps, c.gp, c.penalised) == (1e-4, 1e-4, 0.0, 0.9, 5, 10.0, True)
    assert c.loss_function == "wasserstein"
    c = TrainConfig(loss="wgan-gp", lr_d=3e-4, d_steps=1, gp=5.0).validate()
    assert (c.lr_d, c.d_steps, c.gp) == (3e-4, 1, 5.0)
    c = TrainConfig().validate()
    assert (c.beta1, c.beta2, c.d_steps, c.gp, c.r1, c.penalised) == (0.5, 0.999, 1, 0.0, 0.0, False)
    assert TrainConfig(r2=1.0).validate().penalised


@pytest.mark.parametrize("field, value", [("r1", -1.0), ("gp", float("nan")), ("r2", "10"), ("reg_every", 0)])
def test_bad_penalty_settings_are_refused_by_name(field, value):
    with pytest.raises(ConfigError, match=f"TrainConfig: {field} "):
        TrainConfig(**{field: value}).validate()


def test_wgan_gp_without_its_penalty_is_refused():
    with pytest.raises(ConfigError, match="gp must be > 0 with the wgan-gp loss"):
        TrainConfig(loss="wgan-gp", gp=0.0).validate()
