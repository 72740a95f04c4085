"""TrainConfig: every setting a training run depends on, with its meaning and its checks.

Each field carries its help text, so the command line builds ``minigan train``'s options
from this one list (``--lr-d`` is ``lr_d``) and a setting is written down once. A config is
saved as ``config.json`` in the run folder and inside every checkpoint.
"""
import dataclasses

from .. import backend, losses
from ..checks import is_int, is_number
from ..errors import ConfigError
from ..gan import models, penalties
from ..nn.augment import OPERATIONS as AUGMENTATIONS

# Each model's defaults for the settings left at None, chosen by measurement (docs/sweep.md;
# bench/RESULTS.md). DCGAN: batch 64 at 4e-4 beat the DCGAN paper's batch 32 at 2e-4 on
# both seeds tried (FID 330 and 336 against 384 and 455) in less time; a generator that learns
# faster than its discriminator beat that again: G at 8e-4 scored 235-284 over four runs (two
# seeds, `minigan train` and `minigan sweep`), G at 1.6e-3 230-248, the best median and the best
# worst case. With those rates, batch 32 and a 0.999 average of G's weights then beat batch 64
# without one, in the same wall time, on every seed (bench/RESULTS.md, "Batch 32 and the weight
# average"). MLP: the small BatchNorm-free generator must learn faster than its discriminator,
# or D wins at once and G collapses to a single blob (PyTorch does the same), and the sweep found
# twice the former 1e-3 / 2e-4 better for every loss that learned; its runs are short, and
# stopped early, so no average.
MODEL_DEFAULTS = {
    "dcgan": {"batch_size": 32, "lr_g": 1.6e-3, "lr_d": 4e-4, "ema": 0.999, "width": 64},
    "mlp": {"batch_size": 32, "lr_g": 2e-3, "lr_d": 4e-4, "ema": 0.0, "width": 128},
}
# The losses a run can train with: the GAN losses, and WGAN-GP (the wasserstein loss with its
# gradient penalty on interpolates instead of weight clipping; Gulrajani et al. 2017).
LOSSES = losses.NAMES + ("wgan-gp",)
# Each loss's defaults for the settings left at None, before the model's and the general ones:
# WGAN-GP's are its paper's (Adam at 1e-4 with betas (0, 0.9), 5 critic steps per G step, λ = 10).
LOSS_DEFAULTS = {"wgan-gp": {"lr_g": 1e-4, "lr_d": 1e-4, "beta1": 0.0, "beta2": 0.9, "d_steps": 5, "gp": 10.0}}
GENERAL_DEFAULTS = {"beta1": 0.5, "beta2": 0.999, "d_steps": 1, "gp": 0.0}
# What a setting missing from a saved config meant when that config was written: checkpoints from
# before the weight average existed (2026-11-25) kept none, whatever the default is now (0.999 for
# the DCGAN since 2026-12-06). A missing width is the model's own (MODEL_DEFAULTS).
SAVED_BEFORE = {"ema": 0.0}
# Settings that define the networks' shapes: a resumed run cannot change them.
FIXED_ON_RESUME = ("model", "z_dim", "width", "spectral_norm", "conditional")
# The classes of a conditional run: the ten digits (or Fashion-MNIST's ten kinds of clothes).
NUM_CLASSES = 10


def flag(name):
    """The command-line option of a setting: ``lr_d`` is ``--lr-d``."""
    return "--" + name.replace("_", "-")


def _per_model(name):
    """A setting's default in help text: '32 for every model' when they share it, else '0.999 for dcgan, 0 for mlp'."""
    values = {model: value[name] for model, value in MODEL_DEFAULTS.items()}
    if len(set(values.values())) == 1:
        return f"{next(iter(values.values())):g} for every model"
    return ", ".join(f"{value:g} for {model}" for model, value in values.items())


def _setting(default, help, **cli):
    return dataclasses.field(default=default, metadata=dict(help=help, **cli))


@dataclasses.dataclass
class TrainConfig:
    """Everything a run depends on; saved as config.json and inside each checkpoint."""

    model: str = _setting("dcgan", "The pair of networks: the DCGAN or a small fully connected GAN.",
                          choices=models.MODELS)
    loss: str = _setting("nonsaturating", "The GAN loss (see docs/losses.md's table); wgan-gp is the "
                                          "wasserstein loss with WGAN-GP's gradient penalty and its paper's settings.",
                         choices=LOSSES)
    epochs: int = _setting(15, "Passes over the data; on --resume, the total to reach.")
    batch_size: int = _setting(None, "Images per step, for D's real batch and for G's fake batch "
                                     f"(default: {_per_model('batch_size')}).")
    lr_g: float = _setting(None, f"The generator's Adam learning rate (default: {_per_model('lr_g')}; "
                                 "1e-4 for wgan-gp).")
    lr_d: float = _setting(None, f"The discriminator's Adam learning rate (default: {_per_model('lr_d')}; "
                                 "1e-4 for wgan-gp).")
    beta1: float = _setting(None, "Adam's first-moment decay for both networks (default: 0.5; 0 for wgan-gp; "
                                  "PyTorch's default is 0.9).")
    beta2: float = _setting(None, "Adam's second-moment decay for both networks (default: 0.999; 0.9 for wgan-gp).")
    ema: float = _setting(None, "Decay, in [0, 1), of a moving average of G's weights that makes the samples, snapshots "
                                f"and scores; 0 uses G itself (default: {_per_model('ema')}).")
    d_steps: int = _setting(None, "Discriminator steps per generator step (default: 1; 5 for wgan-gp).")
    gp: float = _setting(None, "Weight λ of WGAN-GP's gradient penalty λ·E[(‖∇D(x̂)‖ - 1)²] on interpolates "
                               "of real and fake images (default: 10 for wgan-gp, else 0: none).", metavar="LAMBDA")
    r1: float = _setting(0.0, "R1: add (γ/2)·E‖∇D(x)‖² on real images to D's loss, with this γ (e.g. 10); "
                              "0: none. Works with every loss.", metavar="GAMMA")
    r2: float = _setting(0.0, "R2: the same penalty on the fakes, with this γ; 0: none.", metavar="GAMMA")
    reg_every: int = _setting(1, "Lazy regularisation: apply the gradient penalties every K-th D step, "
                                 "with K times their weight (StyleGAN2 uses 16).", metavar="K")
    augment: str = _setting("", "Differentiable augmentation of D's input, real and fake, in both players' "
                                "steps (DiffAugment): a comma-separated list of brightness, contrast, translation, "
                                "cutout, or all (default: none).", metavar="OPS")
    augment_p: float = _setting(1.0, "The probability that each augmentation changes each image, ADA's p "
                                     "(default: 1, always, as DiffAugment).", metavar="P")
    spectral_norm: str = _setting("", "Run these networks' Dense and convolution layers spectrally normalised "
                                      "(W / its largest singular value; Miyato et al. 2018): D, G or GD "
                                      "(default: none).", metavar="NETS")
    conditional: bool = _setting(False, "Train a conditional GAN: G and D are given each image's label (from the "
                                        "data's label file), and minigan sample --digit draws the digit asked for.")
    z_dim: int = _setting(100, "Length of the noise vector z fed to the generator.")
    width: int = _setting(None, "The networks' width: the dcgan's first convolution's channels (doubled in the "
                                "second, and mirrored in G), the mlp's first hidden layer's units (doubled in the "
                                f"second) (default: {_per_model('width')}).", metavar="C")
    real_label: float = _setting(1.0, "Target for real images in D's loss; 0.9 is one-sided label smoothing "
                                      "(minimax and nonsaturating only).")
    clip_value: float = _setting(None, "Clip D's weights to [-c, c] after each step "
                                       "(default: 0.01 for wasserstein without --gp, otherwise no clipping; "
                                       "wgan-gp's penalty replaces it).")
    seed: int = _setting(0, "Seed of the initial weights, the data order, the --limit subset and the noise.")
    data: str = _setting(None, "The data: mnist or fashion-mnist for the full set (60,000 images, fetched once into "
                               "minigan's cache; see minigan data), or a folder with train-images-idx3-ubyte[.gz] "
                               "and train-labels-idx1-ubyte[.gz] "
                               "(default: the 5,000 MNIST digits inside minigan).", metavar="DATA")
    limit: int = _setting(None, "Train on a seeded, class-balanced subset of this many images "
                                "(default: all of them).", metavar="N")
    out: str = _setting(None, "The run folder (default: a new runs/<date>-<time> folder).", metavar="DIR")
    backend: str = _setting("numpy", "The array backend (the MINIGAN_BACKEND variable also sets it).",
                            choices=backend.BACKENDS)
    log_every: int = _setting(50, "Steps between log lines (and between checks of the weights for NaN).")
    layer_norms: bool = _setting(False, "Also record each layer's gradient norm in metrics.jsonl.")
    eager: bool = _setting(False, "On the cupy backend, run every step op by op instead of replaying it as one "
                                  "CUDA graph (slower; for debugging). --layer-norms implies it.")
    n_samples: int = _setting(64, "Images in each sample grid.")
    max_steps: int = _setting(None, "Stop after this many steps in all, with a checkpoint to resume from "
                                    "(default: no limit).", metavar="N")
    eval_n: int = _setting(1000, "Samples scored after each epoch (FID, classifier score, digit coverage, "
                                 "precision, recall; in metrics.jsonl and curves.png); 0 turns scoring off.",
                           metavar="N")
    classifier: str = _setting(None, "The classifier .npz that scores the samples (default: minigan's MNIST "
                                     "classifier; with --data, one from minigan train-classifier --data, "
                                     "else nothing is scored).", metavar="NPZ")
    keep_snapshots: int = _setting(5, "Generator snapshots to keep, one per epoch "
                                      "(generator_epoch_NNN.npz, for minigan sample); 0 keeps none.", metavar="K")

    def validate(self):
        """Check every setting and fill in the defaults of those left at None: the loss's (LOSS_DEFAULTS),
        then the model's (MODEL_DEFAULTS), then the general ones (GENERAL_DEFAULTS); returns self.

        Raises ConfigError naming the first bad setting.
        """
        _check_choice(self, "model", models.MODELS)
        _check_choice(self, "loss", LOSSES)
        _check_choice(self, "backend", backend.BACKENDS)
        for defaults in (LOSS_DEFAULTS.get(self.loss, {}), MODEL_DEFAULTS[self.model], GENERAL_DEFAULTS):
            for name, value in defaults.items():
                if getattr(self, name) is None:
                    setattr(self, name, value)
        for name in ("epochs", "batch_size", "d_steps", "z_dim", "width", "log_every", "n_samples", "reg_every"):
            _check_int(self, name, minimum=1)
        for name in ("limit", "max_steps"):
            _check_int(self, name, minimum=1, optional=True)
        if self.batch_size < 2 and models.normalises_over_batch(self.model):
            raise ConfigError("batch_size", f"is 1, but the {self.model} model's BatchNorm layers normalise "
                                            "over the batch and need at least 2 images")
        _check_int(self, "seed", minimum=0)
        if not isinstance(self.conditional, bool):
            raise ConfigError("conditional", f"must be true or false, got {self.conditional!r}")
        _check_int(self, "keep_snapshots", minimum=0)
        _check_int(self, "eval_n", minimum=0)
        if 0 < self.eval_n < 10:
            raise ConfigError("eval_n", f"must be 0 (no scoring) or at least 10, got {self.eval_n}")
        for name in ("lr_g", "lr_d", "clip_value"):
            _check_positive(self, name, optional=(name == "clip_value"))
        for name in ("beta1", "beta2"):
            _check_number(self, name, lambda v: 0.0 <= v < 1.0, "must be in [0, 1)")
        _check_number(self, "ema", lambda v: 0.0 <= v < 1.0, "must be in [0, 1)")
        for name in penalties.TERMS:
            _check_number(self, name, lambda v: v >= 0.0, "must be a number >= 0")
        if not isinstance(self.augment, str) or any(op not in AUGMENTATIONS for op in self.augment_ops):
            raise ConfigError("augment", f"must be a comma-separated list of {', '.join(AUGMENTATIONS)} "
                                         f"(or all), got {self.augment!r}")
        _check_number(self, "augment_p", lambda v: 0.0 <= v <= 1.0, "must be a probability in [0, 1]")
        if self.augment_p != 1.0 and not self.augment_ops:
            raise ConfigError("augment_p", "applies to an augmentation: give --augment too")
        if not (isinstance(self.spectral_norm, str) and self.spectral_norm in ("", "D", "G", "GD", "DG")):
            raise ConfigError("spectral_norm", f"must be D, G or GD (the networks to normalise), "
                                               f"got {self.spectral_norm!r}")
        if self.loss == "wgan-gp" and self.gp == 0:
            raise ConfigError("gp", "must be > 0 with the wgan-gp loss: its penalty is what keeps the critic "
                                    "Lipschitz (for no penalty, use the wasserstein loss with its weight clipping)")
        _check_number(self, "real_label", lambda v: 0.0 < v <= 1.0, "must be in (0, 1]")
        if self.real_label != 1.0 and self.loss not in losses.SIGMOID_NAMES:
            raise ConfigError("real_label", f"applies to {', '.join(losses.SIGMOID_NAMES)} only, "
                                            f"not to the {self.loss} loss")
        for name in ("data", "classifier", "out"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise ConfigError(name, f"must be a path, got {getattr(self, name)!r}")
        if self.out is not None and not self.out.strip():
            raise ConfigError("out", "must name a folder, got '' (which would be the current directory; "
                                     "give a folder name)")
        return self

    @property
    def loss_function(self):
        """The name of the loss in ``minigan.losses``: wgan-gp trains with the wasserstein loss."""
        return "wasserstein" if self.loss == "wgan-gp" else self.loss

    @property
    def augment_ops(self):
        """The augmentation's operations, in order: ``augment`` split at commas ("all": every one)."""
        if not isinstance(self.augment, str) or not self.augment:
            return ()
        return AUGMENTATIONS if self.augment == "all" else tuple(op.strip() for op in self.augment.split(","))

    @property
    def num_classes(self):
        """The classes G and D are conditioned on: NUM_CLASSES for a conditional run, else 0."""
        return NUM_CLASSES if self.conditional else 0

    @property
    def penalised(self):
        """Whether D's loss has a gradient penalty; its D is then built without BatchNorm."""
        return any(getattr(self, name) for name in penalties.TERMS)

    def changes_from(self, other):
        """{field: (other's value, this value)} for every setting that differs."""
        return {f.name: (getattr(other, f.name), getattr(self, f.name)) for f in dataclasses.fields(self)
                if getattr(other, f.name) != getattr(self, f.name)}

    @classmethod
    def from_dict(cls, settings):
        """A validated TrainConfig from a saved dict; ValueError for unknown or bad settings."""
        if not isinstance(settings, dict):
            raise ValueError(f"the config must be a dict of settings, got {type(settings).__name__}")
        unknown = sorted(set(settings) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"the config has settings this minigan does not know: {unknown}")
        return cls(**{**SAVED_BEFORE, **settings}).validate()


def _check_choice(config, name, choices):
    value = getattr(config, name)
    if value not in choices:
        raise ConfigError(name, f"must be one of {', '.join(choices)}, got {value!r}")


def _check_int(config, name, minimum, optional=False):
    value = getattr(config, name)
    if optional and value is None:
        return
    if not is_int(value, minimum):
        kind = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ConfigError(name, f"must be {kind}, got {value!r}")


def _check_positive(config, name, optional=False):
    value = getattr(config, name)
    if optional and value is None:
        return
    if not (is_number(value) and value > 0):
        raise ConfigError(name, f"must be a positive finite number, got {value!r}")


def _check_number(config, name, ok, rule):
    value = getattr(config, name)
    if not (is_number(value) and ok(value)):
        raise ConfigError(name, f"{rule}, got {value!r}")
