"""The command line: ``minigan train``, ``sample``, ``eval``, ``train-classifier``, ``sweep`` and ``gradcheck``.

``python -m minigan ...`` is the same program. Each subcommand is a thin wrapper over a
library function (``train.train`` / ``train.resume``, ``train.sampling.sample``, ``metrics.evaluate``,
``metrics.classifier.train_classifier``, ``sweep.run_sweep``, ``gradcheck.suite.run_suite``); ``minigan train``'s options are built from ``TrainConfig``'s
fields, so each setting is described once.

Every expected failure is one line on stderr, ``minigan <command>: <what went wrong> (<what to
do>)``, with exit status 2 for bad input, 3 for a diverged run and 130 / 143 for an interruption
(Ctrl-C / SIGTERM). A traceback means a bug.
"""
import argparse
import dataclasses
import errno
import os
import pathlib
import signal
import sys

from . import __version__, backend
from .errors import ConfigError, TrainingDiverged, UserError
from .train.config import LOSSES, TrainConfig, flag

EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_TERMINATED = 2, 3, 130, 143
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _add_config_options(parser):
    """One option per TrainConfig field, its help from the field; unset options stay out of the namespace."""
    for field in dataclasses.fields(TrainConfig):
        meta, default = dict(field.metadata), field.default
        shown = "" if default is None or field.type is bool or "(default" in meta["help"] else f" (default: {default})"
        options = dict(default=argparse.SUPPRESS, help=meta["help"] + shown, dest=field.name)
        if field.type is bool:
            parser.add_argument(flag(field.name), action="store_true", **options)
            continue
        options.update(type=field.type, **{k: v for k, v in meta.items() if k in ("choices", "metavar")})
        parser.add_argument(flag(field.name), **options)


def _add_backend(parser):
    parser.add_argument("--backend", choices=backend.BACKENDS, help="The array backend (default: numpy, or "
                        "the MINIGAN_BACKEND variable).")


def _train_parser(sub):
    p = sub.add_parser(
        "train", help="train a GAN on MNIST-format images",
        description="Train a GAN. With no options: the DCGAN, non-saturating loss, on the 5,000 MNIST digits "
                    "inside minigan (about 3 minutes on a 2-core CPU). Writes config.json, metrics.jsonl, "
                    "checkpoint.npz, real_samples.png, per-epoch grids and generator snapshots, samples.png, "
                    "curves.png and progress.gif into the run folder (--out).")
    _add_config_options(p)
    p.add_argument("--resume", metavar="CKPT", help="Continue the run of this checkpoint.npz (or of this run "
                   "folder); options given with it change that run's settings (not --model, --z-dim, "
                   "--width, --spectral-norm or --conditional), --epochs is the total to reach.")
    p.add_argument("--overwrite", action="store_true",
                   help="Replace the run already in --out (only the files minigan wrote are removed).")
    p.add_argument("--verbose", action="store_true", help="Also log the process settings minigan changes "
                   "(the malloc tuning of backend.tune_allocator).")


def _sample_parser(sub):
    p = sub.add_parser("sample", help="draw samples from a trained generator",
                       description="Draw samples from a checkpoint's generator (checkpoint.npz or a "
                                   "generator_epoch_NNN.npz snapshot) and save them as a grid PNG.")
    p.add_argument("--checkpoint", required=True, help="A run folder, or a checkpoint.npz or generator snapshot written by "
                   "minigan train.")
    p.add_argument("--n", type=int, default=64, help="Number of samples (default: 64).")
    p.add_argument("--seed", type=int, default=0, help="Seed of the noise vectors (default: 0).")
    p.add_argument("--out", default=None, help="The grid PNG to write; its folder is created "
                   "(default: samples.png, or none with --each).")
    p.add_argument("--nrow", type=int, default=None, help="Images per row of the grid (default: a square).")
    p.add_argument("--interpolate", type=int, default=None, metavar="STEPS", help="Draw walks through "
                   "latent space instead: each row goes from one noise vector to another in STEPS images.")
    p.add_argument("--each", default=None, metavar="DIR", help="Also write every sample as its own 28x28 PNG "
                   "into DIR, for tools that score images one by one.")
    p.add_argument("--digit", default=None, metavar="D", help="For a generator trained with --conditional: the "
                   "digit to draw (0-9), or all for one row per digit.")
    _add_backend(p)


def _data_parser(sub):
    from .data.download import DATASETS, ENV
    p = sub.add_parser("data", help="list the full-size data sets in minigan's cache, or fetch one",
                       description="The full-size data sets that --data NAME reads (--data mnist, --data "
                                   "fashion-mnist): where each is cached, which files are there, and where they come "
                                   f"from. With a NAME, fetch what is missing first. The cache is ${ENV} if set, "
                                   "else the user's cache folder.")
    p.add_argument("name", nargs="?", choices=tuple(DATASETS), help="A data set to fetch now.")


def _gradcheck_parser(sub):
    g = sub.add_parser("gradcheck", help="check every layer's and loss's gradient; print the table",
                       description="Check every hand-written gradient against central finite differences.")
    g.add_argument("--seed", type=int, default=0, help="Seed of the inputs, weights and dy (default: 0).")
    _add_backend(g)


def _classifier_parser(sub):
    p = sub.add_parser("train-classifier", help="train the digit classifier that the quality metrics use",
                       description="Train the evaluator (minigan.metrics.classifier) on MNIST-format data, keeping a "
                                   "class-balanced held-out split, and save it as an .npz. With no options it "
                                   "rebuilds the classifier shipped with minigan.")
    p.add_argument("--data", default=None, metavar="DATA", help="The data: mnist or fashion-mnist (fetched once; see "
                   "minigan data), or a folder with MNIST-format training files "
                   "(default: the 5,000 MNIST digits inside minigan).")
    p.add_argument("--out", default="classifier.npz", help="The .npz to write (default: classifier.npz).")
    p.add_argument("--epochs", type=int, default=30, help="Passes over the training split (default: 30).")
    p.add_argument("--heldout", type=int, default=1000, help="Images kept out of training, to measure "
                   "accuracy and to serve as the metrics' real reference (default: 1000).")
    p.add_argument("--seed", type=int, default=0, help="Seed of the weights, the split and the shifts (default: 0).")
    _add_backend(p)


def _eval_parser(sub):
    p = sub.add_parser("eval", help="score a generator: FID, classifier score, coverage, precision, recall",
                       description="Score a checkpoint's generator against held-out real digits with the "
                                   "digit classifier (docs/quality.md). A conditional generator is asked for every "
                                   "digit equally often, and the share read back as the digit asked for and the "
                                   "intra-FID are added.")
    p.add_argument("--checkpoint", required=True, help="A run folder, or a checkpoint.npz or generator snapshot.")
    p.add_argument("--n", type=int, default=1000, help="Samples to score; compare FIDs only at the same n "
                   "(default: 1000).")
    p.add_argument("--seed", type=int, default=0, help="Seed of the noise vectors (default: 0).")
    p.add_argument("--classifier", default=None, metavar="NPZ", help="A classifier from minigan "
                   "train-classifier (default: the one shipped with minigan, for MNIST).")
    p.add_argument("--data", default=None, metavar="DATA", help="Score against 1,000 class-balanced images of this "
                   "data's test split (mnist, fashion-mnist, or a folder with the t10k- files) instead of the "
                   "classifier's held-out images.")
    p.add_argument("--json", action="store_true", help="Print one JSON object instead of the table.")
    _add_backend(p)


def _sweep_parser(sub):
    from .sweep import Grid, quick_grid
    quick = quick_grid()
    d = Grid()
    p = sub.add_parser("sweep", help="a tuning study: every loss over a grid of settings and seeds",
                       description="Train every combination of the settings below once per seed, score each "
                                   "final generator, and write sweep.csv, sweep.md and a heatmap sweep.png. The "
                                   "default grid (40 runs) takes about 12 minutes on 2 CPU cores, --quick about 2.")
    p.add_argument("--quick", action="store_true", help=f"A small grid: the trainer's defaults for the model "
                   f"(learning rates, batch size, weight average), beta1 {quick.beta1s[0]:g}, {quick.epochs} epochs (the other "
                   "options still apply).")
    p.add_argument("--losses", nargs="+", choices=LOSSES, default=None, metavar="LOSS",
                   help=f"The losses (default: all five: {' '.join(d.losses)}; wgan-gp may be added).")
    p.add_argument("--lr-scales", nargs="+", type=float, default=None, metavar="X",
                   help="Multiples of the reference learning rates (dcgan 2e-4 for G and D; mlp 1e-3 for G, "
                        "2e-4 for D; the trainer's defaults are 2x these) "
                        f"(default: {' '.join(f'{v:g}' for v in d.lr_scales)}).")
    p.add_argument("--g-lr-ratios", nargs="+", type=float, default=None, metavar="R",
                   help="Multiples of G's learning rate alone, on top of --lr-scales: the balance between the "
                        "players (default: 1; the dcgan's default G learns at 4).")
    p.add_argument("--jobs", type=int, default=None, help="Runs at a time, each with one BLAS thread "
                   "(default: the number of CPU cores; 1 with --backend cupy).")
    p.add_argument("--beta1s", nargs="+", type=float, default=None, metavar="B1",
                   help=f"Adam beta1 values (default: {' '.join(f'{v:g}' for v in d.beta1s)}).")
    p.add_argument("--d-steps", nargs="+", type=int, default=None, metavar="K",
                   help="D steps per G step (default: 1).")
    p.add_argument("--r1s", nargs="+", type=float, default=None, metavar="GAMMA",
                   help="R1 penalty weights γ to try, 0 for none (default: 0).")
    p.add_argument("--spectral-norms", nargs="+", default=None, metavar="NETS",
                   help="Spectral normalisation to try: none, D, G or GD (default: none).")
    p.add_argument("--augments", nargs="+", default=None, metavar="OPS",
                   help="Augmentations to try: none, all, or comma-separated operations (default: none).")
    p.add_argument("--augment-ps", nargs="+", type=float, default=None, metavar="P",
                   help="For each augmentation, the probabilities with which it changes each image, as "
                        "train's --augment-p (default: 1; a cell without augmentation runs once).")
    p.add_argument("--seeds", type=int, default=None, help=f"Seeds per setting (default: {d.seeds}).")
    p.add_argument("--model", choices=("dcgan", "mlp"), default=None, help=f"The networks (default: {d.model}).")
    p.add_argument("--epochs", type=int, default=None, help=f"Epochs per run (default: {d.epochs}, "
                   f"{quick.epochs} with --quick).")
    p.add_argument("--batch-size", type=int, default=None, help=f"Images per step in every run (default: "
                   f"{d.batch_size}; with --quick the model's own: {quick_grid('mlp').batch_size} for the mlp, "
                   f"{quick_grid('dcgan').batch_size} for the dcgan).")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="Train each run on a class-balanced "
                   "subset of N images (default: all of them).")
    p.add_argument("--ema", type=float, default=None, metavar="DECAY", help=f"Every run's moving average of G's "
                   f"weights, as minigan train --ema (default: {d.ema:g}, none, so a study does not change with "
                   f"the trainer's defaults; with --quick the model's own: {quick_grid('dcgan').ema:g} for the "
                   "dcgan).")
    p.add_argument("--data", default=None, metavar="DATA", help="Every run's data, as minigan train --data: mnist, "
                   "fashion-mnist or a folder of IDX files (default: the 5,000 MNIST digits inside minigan).")
    p.add_argument("--classifier", default=None, metavar="NPZ", help="The classifier .npz that scores the runs "
                   "(default: minigan's MNIST classifier; needed for data other than MNIST).")
    p.add_argument("--conditional", action="store_true", default=None, help="Train every run as a conditional "
                   "GAN (minigan train --conditional).")
    p.add_argument("--out", default=None, metavar="DIR", help="The study's folder (default: a new "
                   "sweeps/<date>-<time>).")
    _add_backend(p)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="minigan", description="GANs from scratch on NumPy/CuPy, every gradient hand-written and checked.")
    parser.add_argument("--version", action="version", version=f"minigan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True,
                                metavar="{train,sample,eval,train-classifier,sweep,data,gradcheck}")
    _train_parser(sub)
    _sample_parser(sub)
    _eval_parser(sub)
    _classifier_parser(sub)
    _sweep_parser(sub)
    _data_parser(sub)
    _gradcheck_parser(sub)
    parser.commands = sub.choices                  # {name: its parser}, for _parse's errors
    return parser


def _parse(parser, argv):
    """The parsed arguments; an option the command does not know is reported with that command's usage
    (argparse alone reports it against the top-level usage, which lists no option)."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        given = list(sys.argv[1:] if argv is None else argv)
        before = given.index(args.command) if args.command in given else len(given)
        owner = parser if any(a in given[:before] for a in unknown) else parser.commands[args.command]
        owner.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def _use_backend(args):
    """Set the backend from --backend, else MINIGAN_BACKEND, else numpy; returns its name."""
    if getattr(args, "backend", None):
        backend.set_backend(args.backend)
    return backend.get_backend()


def run_train(args):
    from . import train
    settings = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if hasattr(args, f.name)}
    settings["backend"] = _use_backend(args)
    if args.resume:
        result = train.resume(args.resume, settings, overwrite=args.overwrite, verbose=args.verbose)
    else:
        result = train.train(TrainConfig(**settings), overwrite=args.overwrite, verbose=args.verbose)
    return result["exit_code"]


def run_sample(args):
    from .train.sampling import sample
    _use_backend(args)
    digit = args.digit
    if digit is not None and digit != "all":
        try:
            digit = int(digit)
        except ValueError:
            raise ConfigError("digit", f"must be 0 to 9 or all, got {digit!r}", owner="sample") from None
    out = args.out if args.out is not None or args.each is not None else "samples.png"
    written = sample(args.checkpoint, n=args.n, seed=args.seed, out=out, nrow=args.nrow,
                     interpolate_steps=args.interpolate, each=args.each, digit=digit)
    print("wrote " + ", ".join(str(path) for path in written))
    return 0


def run_train_classifier(args):
    from .metrics.classifier import train_classifier
    _use_backend(args)
    backend.tune_allocator()
    for name in ("epochs", "heldout", "seed"):
        if getattr(args, name) < (0 if name == "seed" else 1):
            raise ConfigError(name, f"must be a {'non-negative' if name == 'seed' else 'positive'} int, "
                                    f"got {getattr(args, name)}", owner="train-classifier")
    _check_classifier_out(args.out)                          # before the training, not after it
    classifier = train_classifier(args.data, epochs=args.epochs, heldout=args.heldout, seed=args.seed)
    classifier.save(args.out)
    print(f"wrote {args.out}: held-out accuracy {classifier.accuracy:.4f} on {len(classifier.heldout)} images")
    return 0


def _check_classifier_out(out):
    """ConfigError unless ``out`` can take a classifier: a file in an existing folder, not a file of another kind."""
    from .metrics import classifier
    path = pathlib.Path(out)
    if path.is_dir() or not str(out).strip():
        raise ConfigError("out", f"must be a file to write, got {str(out)!r}", owner="train-classifier")
    if not path.parent.is_dir():
        raise ConfigError("out", f"is in {path.parent}, which does not exist (create it, or choose another --out)",
                          owner="train-classifier")
    if path.exists():
        try:
            classifier.load(path)
        except classifier.ClassifierError:
            raise ConfigError("out", f"{path} exists and is not a minigan classifier; minigan replaces only its own "
                                     "classifiers (choose another --out)", owner="train-classifier") from None


def run_eval(args):
    import json
    from . import metrics
    from .metrics import classifier
    from . import data
    from .train.sampling import generate_labelled
    _use_backend(args)
    if args.n < 10:
        raise ConfigError("n", f"must be at least 10, got {args.n}", owner="eval")
    judge = classifier.load(args.classifier) if args.classifier else None
    images, labels = generate_labelled(args.checkpoint, args.n, seed=args.seed)   # conditional: every digit alike
    real, real_labels = (None, None) if args.data is None else data.load_mnist(
        args.data, split="test", limit=metrics.N_DEFAULT, seed=0)     # a fixed, balanced reference
    result = metrics.evaluate(images, real=real, classifier=judge, labels=labels, real_labels=real_labels)
    print(json.dumps(result) if args.json else metrics.report(result, metrics.kinds_of(judge)))
    return 0


def run_sweep(args):
    from . import sweep
    from .train.folder import new_run_path
    name = _use_backend(args)
    backend.tune_allocator()
    grid = sweep.quick_grid(args.model or sweep.Grid.model) if args.quick else sweep.Grid()
    given = {"losses": args.losses, "lr_scales": args.lr_scales, "g_lr_ratios": args.g_lr_ratios,
             "beta1s": args.beta1s, "d_steps": args.d_steps, "r1s": args.r1s,
             "spectral_norms": None if args.spectral_norms is None else [
                 "" if s == "none" else s for s in args.spectral_norms],
             "augments": None if args.augments is None else ["" if s == "none" else s for s in args.augments],
             "augment_ps": args.augment_ps,
             "seeds": args.seeds, "model": args.model, "epochs": args.epochs, "limit": args.limit,
             "batch_size": args.batch_size, "data": args.data, "classifier": args.classifier,
             "conditional": args.conditional, "ema": args.ema}
    grid = dataclasses.replace(grid, **{k: tuple(v) if isinstance(v, list) else v
                                        for k, v in given.items() if v is not None})
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError("jobs", f"must be a positive int, got {args.jobs}", owner="sweep")
    reference = sweep.prepare(grid)                 # the grid, classifier and data, before any folder is made
    out = args.out or new_run_path("sweeps")
    signal.signal(signal.SIGTERM, _raise_interrupt)          # stop the runs, not only the sweep
    sweep.run_sweep(grid, out, backend=name, jobs=args.jobs, reference=reference)
    print(f"wrote {out}/sweep.csv, sweep.md and sweep.png")
    return 0


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where SIGINT's KeyboardInterrupt would be (the sweep stops its runs the same way); exit 143."""


def _raise_interrupt(signum, frame):
    raise _Terminated


def run_data(args):
    from .data import download
    if args.name:
        download.fetch(args.name)
    for name in [args.name] if args.name else download.DATASETS:
        print("\n".join(download.describe(name)))
    return 0


def run_gradcheck(args):
    from .gradcheck.suite import main as gradcheck_main
    if args.seed < 0:
        raise ConfigError("seed", f"must be an int >= 0, got {args.seed}", owner="gradcheck")
    _use_backend(args)
    return gradcheck_main(["--seed", str(args.seed)])


def describe(error):
    """The one line (without the ``minigan <command>:`` prefix) that says what an expected failure was."""
    if isinstance(error, ConfigError):
        hint = "" if error.problem.endswith(")") else " (see --help)"
        return f"{flag(error.field)} {error.problem}{hint}"
    if isinstance(error, OSError) and error.errno in _NO_SPACE:
        return (f"{error.filename or 'a file'}: {error.strerror}: disk full or over a size limit (free some "
                "space and run again; files written before, checkpoints included, are intact)")
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror}"
    if isinstance(error, MemoryError):
        return f"out of memory ({error or 'a smaller --batch-size or --z-dim needs less'})"
    if isinstance(error, KeyboardInterrupt):
        return "interrupted (checkpoints are written whole: the last one in the run folder is intact)"
    return str(error)


def reference():
    """docs/cli.md: every command's ``--help``, at a fixed width."""
    import functools
    parser = build_parser()
    lines = ["# Command-line reference", "",
             "Every command and option of `minigan`, as `--help` prints them. Generated by "
             "`python -c \"import minigan.cli; print(minigan.cli.reference(), end='')\" > docs/cli.md`; "
             "`tests/test_docs.py` fails when it is out of date.", ""]
    for name, command in [("minigan", parser), *((f"minigan {k}", v) for k, v in parser.commands.items())]:
        command.formatter_class = functools.partial(argparse.HelpFormatter, width=100)
        lines += [f"## {name}", "", "```", command.format_help().rstrip(), "```", ""]
    return "\n".join(lines)


def main(argv=None):
    args = _parse(build_parser(), argv)
    command = {"train": run_train, "sample": run_sample, "eval": run_eval, "train-classifier": run_train_classifier,
               "sweep": run_sweep, "data": run_data, "gradcheck": run_gradcheck}[args.command]
    try:
        return command(args)
    except BrokenPipeError:                        # the reader went away (| head): nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # Python's advice for SIGPIPE
        return 141
    except TrainingDiverged as error:
        return _fail(args.command, error, EXIT_DIVERGED)
    except (UserError, OSError, MemoryError) as error:
        return _fail(args.command, error, EXIT_BAD_INPUT)
    except KeyboardInterrupt as error:
        return _fail(args.command, error, EXIT_TERMINATED if isinstance(error, _Terminated) else EXIT_INTERRUPTED)


def _fail(command, error, code):
    print(f"minigan {command}: {describe(error)}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
