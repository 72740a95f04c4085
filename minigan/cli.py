"""The command line: ``minigan train``, ``minigan sample`` and ``minigan gradcheck``.

``python -m minigan ...`` is the same program. Each subcommand is a thin wrapper over a
library function (``train.train``, ``train.sample``, ``gradcheck.suite.run_suite``).
"""
import argparse
import sys

from . import backend, losses, models
from .train import TrainConfig, TrainingDiverged

_DEFAULTS = TrainConfig()


def _train_parser(sub):
    p = sub.add_parser(
        "train", help="train a GAN on MNIST-format images",
        description="Train a GAN. With no options: the DCGAN, non-saturating loss, on the 5,000 embedded "
                    "MNIST digits (a few minutes on a 2-core CPU). Writes sample grids per epoch, samples.png, "
                    "progress.gif, curves.png, metrics.jsonl, config.json and checkpoint.npz into --out.")
    p.add_argument("--model", choices=models.MODELS, default=_DEFAULTS.model, help="network pair (default dcgan)")
    p.add_argument("--loss", choices=losses.NAMES, default=_DEFAULTS.loss, help="GAN loss (default nonsaturating)")
    p.add_argument("--epochs", type=int, default=_DEFAULTS.epochs, help=f"passes over the data (default {_DEFAULTS.epochs})")
    p.add_argument("--batch-size", type=int, default=_DEFAULTS.batch_size, help=f"default {_DEFAULTS.batch_size}")
    p.add_argument("--lr-g", type=float, default=None,
                   help="generator Adam learning rate (default 2e-4 for dcgan, 1e-3 for mlp)")
    p.add_argument("--lr-d", type=float, default=_DEFAULTS.lr_d, help="discriminator Adam learning rate (default 2e-4)")
    p.add_argument("--beta1", type=float, default=_DEFAULTS.beta1, help="Adam beta1 for both (default 0.5)")
    p.add_argument("--d-steps", type=int, default=_DEFAULTS.d_steps, help="D steps per G step (default 1)")
    p.add_argument("--real-label", type=float, default=_DEFAULTS.real_label,
                   help="one-sided label smoothing for minimax/nonsaturating, e.g. 0.9 (default 1.0)")
    p.add_argument("--clip-value", type=float, default=None,
                   help="clip D's weights to [-c, c] after each step (default: 0.01 for wasserstein, else off)")
    p.add_argument("--z-dim", type=int, default=_DEFAULTS.z_dim, help="noise dimension (default 100)")
    p.add_argument("--seed", type=int, default=_DEFAULTS.seed, help="seed for weights, data order and noise (default 0)")
    p.add_argument("--data", default=None,
                   help="directory with train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] "
                        "(default: the embedded 5,000 MNIST digits)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N images")
    p.add_argument("--out", default=None, help="output folder (default runs/<timestamp>)")
    p.add_argument("--backend", choices=backend.BACKENDS, default=None,
                   help="numpy (default) or cupy; the MINIGAN_BACKEND variable also sets it")
    p.add_argument("--resume", metavar="CKPT", default=None,
                   help="continue a run from its checkpoint.npz (its own settings; --epochs may extend it)")
    p.add_argument("--log-every", type=int, default=_DEFAULTS.log_every, help="steps between log lines (default 50)")
    p.add_argument("--layer-norms", action="store_true", help="also record each layer's gradient norm")
    p.add_argument("--max-steps", type=int, default=None, help="stop (with a checkpoint) after this many steps")


def _sample_parser(sub):
    p = sub.add_parser("sample", help="draw samples from a trained generator",
                       description="Draw samples from a checkpoint's generator and save them as a grid PNG.")
    p.add_argument("--checkpoint", required=True, help="a checkpoint.npz written by minigan train")
    p.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    p.add_argument("--out", default="samples.png", help="PNG to write (default samples.png)")
    p.add_argument("--backend", choices=backend.BACKENDS, default=None, help="numpy (default) or cupy")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="minigan", description="GANs from scratch on NumPy/CuPy, every gradient hand-written and checked.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,sample,gradcheck}")
    _train_parser(sub)
    _sample_parser(sub)
    g = sub.add_parser("gradcheck", help="check every layer's and loss's gradient; print the table",
                       description="Check every hand-written gradient against central finite differences.")
    g.add_argument("--seed", type=int, default=0)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if getattr(args, "backend", None):
        backend.set_backend(args.backend)
    if args.command == "gradcheck":
        from .gradcheck.suite import main as gradcheck_main
        return gradcheck_main(["--seed", str(args.seed)])
    if args.command == "sample":
        from .train import sample
        if args.n < 1:
            sys.exit("minigan sample: --n must be at least 1")
        print(f"wrote {sample(args.checkpoint, n=args.n, seed=args.seed, out=args.out)}")
        return 0
    from .train import train
    config = TrainConfig(
        model=args.model, loss=args.loss, epochs=args.epochs, batch_size=args.batch_size, lr_g=args.lr_g,
        lr_d=args.lr_d, beta1=args.beta1, d_steps=args.d_steps, z_dim=args.z_dim, real_label=args.real_label,
        clip_value=args.clip_value, seed=args.seed, data=args.data, limit=args.limit, out=args.out,
        backend=backend.get_backend(), log_every=args.log_every, layer_norms=args.layer_norms,
        max_steps=args.max_steps)
    try:
        result = train(config, resume=args.resume)
    except TrainingDiverged as error:
        print(f"minigan train: {error}", file=sys.stderr)
        return 3
    except (ValueError, FileNotFoundError) as error:
        print(f"minigan train: {error}", file=sys.stderr)
        return 2
    return 0 if result["status"] != "interrupted" else 130


if __name__ == "__main__":
    sys.exit(main())
