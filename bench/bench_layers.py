"""Layer speed: minigan (NumPy) against PyTorch (CPU, eager) on DCGAN-sized shapes, forward + backward.

    python bench/bench_layers.py                 # batch 64, 5 rounds, 2 threads
    python bench/bench_layers.py --batch 128 --rounds 9

Each framework runs in its own process (their thread pools contend when they share one), kept
alive while the two take turns (``paired.py``): in each round each process times a burst of
every op in turn and reports each burst's median; the table shows the median over rounds, with
the spread of the per-round ratio. Inputs are NCHW arrays in NCHW memory, so minigan's
BatchNorm2d row includes the transposing copy to channels-last rows that a convolution's
output (NHWC memory) never needs inside a network. Both sides get the same
thread count and the same malloc setting (``minigan.backend.tune_allocator``, unless
``--no-tune-allocator``), warm up first, and run on random (not zero) data. PyTorch must be installed
(`pip install torch`); it is a peer for this benchmark, never a dependency of minigan.
"""
import argparse
import os
import pathlib
import statistics
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import paired  # noqa: E402
import torch_peer  # noqa: E402

# (name, shape description, builder key, input shape without the batch axis)
OPS = [
    ("Conv2d(1, 64, 4, 2, 1)", "1x28x28", "conv", (1, 64), (1, 28, 28)),
    ("Conv2d(64, 128, 4, 2, 1)", "64x14x14", "conv", (64, 128), (64, 14, 14)),
    ("ConvTranspose2d(128, 64, 4, 2, 1)", "128x7x7", "convT", (128, 64), (128, 7, 7)),
    ("ConvTranspose2d(64, 1, 4, 2, 1)", "64x14x14", "convT", (64, 1), (64, 14, 14)),
    ("BatchNorm2d(64)", "64x14x14", "bn2d", (64,), (64, 14, 14)),
    ("BatchNorm1d(6272)", "6272", "bn1d", (6272,), (6272,)),
    ("LeakyReLU(0.2)", "64x14x14", "lrelu", (), (64, 14, 14)),
    ("Dense(100, 6272)", "100", "dense", (100, 6272), (100,)),
    ("Dense(6272, 1)", "6272", "dense", (6272, 1), (6272,)),
    ("DCGAN G then D", "z 100", "dcgan", (), (100,)),
]
STEP = ("DCGAN training step (D on real + fake, G through D, 2x Adam)", "1x28x28")


def _minigan_ops(batch, rng):
    """{op name: a forward + backward call} on minigan's layers, and the training step."""
    import minigan as mg
    nn = mg.nn

    build = {
        "conv": lambda a: nn.Conv2d(a[0], a[1], 4, 2, 1, rng=0),
        "convT": lambda a: nn.ConvTranspose2d(a[0], a[1], 4, 2, 1, rng=0),
        "bn2d": lambda a: nn.BatchNorm2d(a[0]),
        "bn1d": lambda a: nn.BatchNorm1d(a[0]),
        "lrelu": lambda a: nn.LeakyReLU(0.2),
        "dense": lambda a: nn.Dense(a[0], a[1], rng=0),
        "dcgan": lambda a: nn.Sequential(*mg.models.dcgan(rng=0)),
    }
    results = {}
    for name, _, key, args, shape in OPS:
        layer = build[key](args)
        x = rng.standard_normal((batch,) + shape).astype(np.float32)
        dy = rng.standard_normal(layer(x).shape).astype(np.float32)
        layer.backward(dy)

        def step(layer=layer, x=x, dy=dy):
            layer.zero_grad()
            layer(x)
            layer.backward(dy)

        results[name] = step
    G, D = mg.models.dcgan(rng=0)
    loss = mg.losses.get("nonsaturating")
    opt_g, opt_d = mg.optim.Adam(G.parameters()), mg.optim.Adam(D.parameters())
    real = rng.random((batch, 1, 28, 28)).astype(np.float32)
    z = rng.standard_normal((batch, 100)).astype(np.float32)
    results[STEP[0]] = lambda: mg.train.gan_step(G, D, loss, opt_g, opt_d, real, z)
    return results


def _torch_ops(batch, rng):
    """{op name: a forward + backward call} on the same layers in PyTorch, and the training step."""
    import torch
    nn = torch.nn

    def dcgan():
        G = nn.Sequential(nn.Linear(100, 128 * 7 * 7), nn.BatchNorm1d(128 * 7 * 7), nn.LeakyReLU(0.2),
                          nn.Unflatten(1, (128, 7, 7)), nn.ConvTranspose2d(128, 64, 4, 2, 1),
                          nn.BatchNorm2d(64), nn.LeakyReLU(0.2), nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Sigmoid())
        D = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(64, 128, 4, 2, 1),
                          nn.BatchNorm2d(128), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(128 * 7 * 7, 1))
        return G, D

    build = {
        "conv": lambda a: nn.Conv2d(a[0], a[1], 4, 2, 1),
        "convT": lambda a: nn.ConvTranspose2d(a[0], a[1], 4, 2, 1),
        "bn2d": lambda a: nn.BatchNorm2d(a[0]),
        "bn1d": lambda a: nn.BatchNorm1d(a[0]),
        "lrelu": lambda a: nn.LeakyReLU(0.2),
        "dense": lambda a: nn.Linear(a[0], a[1]),
        "dcgan": lambda a: nn.Sequential(*dcgan()),
    }
    results = {}
    for name, _, key, args, shape in OPS:
        layer = build[key](args)
        x = torch.tensor(rng.standard_normal((batch,) + shape).astype(np.float32), requires_grad=True)
        dy = torch.tensor(rng.standard_normal(tuple(layer(x).shape)).astype(np.float32))

        def step(layer=layer, x=x, dy=dy):
            layer.zero_grad()
            x.grad = None
            layer(x).backward(dy)

        results[name] = step
    G, D = dcgan()
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real = torch.tensor(rng.random((batch, 1, 28, 28)).astype(np.float32))
    z = torch.tensor(rng.standard_normal((batch, 100)).astype(np.float32))
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)

    def gan_step():                       # the same game as minigan.train.gan_step
        fake = G(z)
        opt_d.zero_grad()
        (bce(D(real), ones) + bce(D(fake.detach()), zeros)).backward()
        opt_d.step()
        opt_g.zero_grad()
        bce(D(fake), ones).backward()
        opt_g.step()

    results[STEP[0]] = gan_step
    return results


def worker(framework, batch, threads, tune):
    rng = np.random.default_rng(0)
    if tune:                          # the same malloc setting for both frameworks
        from minigan.backend import tune_allocator
        tune_allocator()
    if framework == "torch":
        torch = torch_peer.require_torch()
        torch.set_num_threads(threads)
        paired.serve(_torch_ops(batch, rng))
    else:
        paired.serve(_minigan_ops(batch, rng))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.3, help="seconds of timed calls per op and burst")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-tune-allocator", dest="tune", action="store_false",
                        help="leave glibc's malloc at its defaults (see minigan.backend.tune_allocator)")
    parser.add_argument("--worker", choices=["minigan", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.batch, args.threads, args.tune)
    torch_peer.require_torch()                                  # one line, before any worker starts
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads), MINIGAN_BACKEND="numpy")
    commands = {framework: [sys.executable, __file__, "--worker", framework, "--batch", str(args.batch),
                            "--threads", str(args.threads)] + ([] if args.tune else ["--no-tune-allocator"])
                for framework in ("minigan", "torch")}
    runs, _ = paired.paired_rounds(commands, env, args.rounds, args.min_time)
    print(f"batch {args.batch}, {args.threads} threads, {args.rounds} paired rounds of >= {args.min_time} s "
          f"bursts per op, allocator "
          f"{'tuned' if args.tune else 'default'} (forward + backward, median ms)\n")
    print("| op | input (per sample) | minigan ms | torch ms | ratio | ratio range |")
    print("|---|---|---|---|---|---|")
    for name, shape, *_ in OPS + [STEP]:
        ours = [r[name] for r in runs["minigan"]]
        theirs = [r[name] for r in runs["torch"]]
        ratios = [a / b for a, b in zip(ours, theirs)]
        print(f"| {name} | {shape} | {statistics.median(ours):.2f} | {statistics.median(theirs):.2f} | "
              f"{statistics.median(ratios):.2f} | {min(ratios):.2f}-{max(ratios):.2f} |")


if __name__ == "__main__":
    main()
