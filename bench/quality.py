"""The same GAN trained by minigan and by PyTorch, side by side: quality, time, and a lockstep check.

    python bench/quality.py                     # dcgan with minigan train's defaults (15 epochs, batch 32,
                                                #   G's lr 1.6e-3, D's 4e-4), both sides sampling G itself
                                                #   (minigan train --ema 0: no weight average)
    python bench/quality.py --batch-size 32 --lr 2e-4    # the reference DCGAN recipe (lr 2e-4 for both)
    python bench/quality.py --epochs 3          # quicker
    python bench/quality.py --lockstep          # 50 steps in lockstep: the largest relative differences

Both sides start from the same initial weights (minigan's ``models.dcgan(rng=seed)``, copied into
PyTorch by ``torch_peer.torch_copy``), see the same batches in the same order and the same noise
(the generators ``minigan train`` uses: data order from default_rng([seed, 1]), noise from
default_rng([seed, 2])), with the same hyperparameters. So minigan's side reproduces ``minigan
train``'s weights exactly (of G itself: neither side keeps ``--ema``'s weight average). Each side trains in its own process, then draws 1,000 samples from the
same noise (that of ``minigan eval --seed 0``), and minigan's evaluator scores both against its
held-out real digits. Writes a side-by-side PNG of the first 64 samples (``--png``) and prints a
markdown table. PyTorch is the peer here, never a dependency of minigan.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import torch_peer  # noqa: E402

import minigan as mg  # noqa: E402


def _loop(step, epochs, batch_size, seed, z_dim=100):
    """The trainer's data order and noise; ``step(real, z)`` returns (loss_d, loss_g) as floats."""
    images, _ = mg.data.load_mnist()
    batches = mg.data.Batches(images, batch_size, np.random.default_rng([seed, 1]))
    noise = np.random.default_rng([seed, 2])
    steps = 0
    for _ in range(epochs):
        for real in batches.epoch(batches.permutation()):
            step(mg.to_numpy(real), noise.standard_normal((len(real), z_dim)).astype(np.float32))
            steps += 1
    return steps


def worker(framework, epochs, batch_size, lr_g, lr_d, seed, out):
    mg.backend.tune_allocator()
    G, D = mg.models.dcgan(rng=seed)
    eval_z = np.random.default_rng(0).standard_normal((mg.metrics.N_DEFAULT, 100)).astype(np.float32)
    if framework == "torch":
        torch = torch_peer.require_torch()
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
        game = torch_peer.TorchGame(G, D, lr_g=lr_g, lr_d=lr_d)
        step = lambda real, z: [float(v.detach()) for v in game.step(real, z) if v is not None]   # noqa: E731
        generate = game.generate
    else:
        loss = mg.losses.get("nonsaturating")
        opt_g, opt_d = mg.optim.Adam(G.parameters(), lr=lr_g), mg.optim.Adam(D.parameters(), lr=lr_d)
        step = lambda real, z: mg.game.gan_step(G, D, loss, opt_g, opt_d, real, z)   # noqa: E731

        def generate(z):
            G.eval()
            return mg.to_numpy(G(z))
    start = time.perf_counter()
    steps = _loop(step, epochs, batch_size, seed)
    seconds = time.perf_counter() - start
    np.save(out, generate(eval_z))
    print(json.dumps({"seconds": seconds, "steps": steps}))


def lockstep(steps, batch_size, lr_g, lr_d, seed):
    """minigan and PyTorch step by step from the same weights; prints the largest relative differences."""
    G, D = mg.models.dcgan(rng=seed)
    game = torch_peer.TorchGame(G, D, lr_g=lr_g, lr_d=lr_d)
    loss = mg.losses.get("nonsaturating")
    opt_g, opt_d = mg.optim.Adam(G.parameters(), lr=lr_g), mg.optim.Adam(D.parameters(), lr=lr_d)
    worst = {"loss_d": 0.0, "loss_g": 0.0, "parameters": 0.0}
    print("| step | loss_d rel diff | loss_g rel diff | parameters max rel diff |\n|---|---|---|---|")

    def step(real, z):
        ours = mg.game.gan_step(G, D, loss, opt_g, opt_d, real, z)
        theirs = [float(v.detach()) for v in game.step(real, z)]
        pairs = list(zip(torch_peer.minigan_parameters(G, D), game.parameters()))
        row = {"loss_d": abs(ours["loss_d"] - theirs[0]) / abs(theirs[0]),
               "loss_g": abs(ours["loss_g"] - theirs[1]) / abs(theirs[1]),
               "parameters": max(float(np.abs(a - b).max()) for a, b in pairs) /
               max(float(np.abs(b).max()) for _, b in pairs)}
        for k in worst:
            worst[k] = max(worst[k], row[k])
        step.count += 1
        if step.count in (1, 2, 5, 10, 20, 30, 40, 50) or step.count == steps:
            print(f"| {step.count} | {row['loss_d']:.1e} | {row['loss_g']:.1e} | {row['parameters']:.1e} |")
        if step.count == steps:
            raise StopIteration

    step.count = 0
    try:
        _loop(step, epochs=10 ** 6, batch_size=batch_size, seed=seed)
    except StopIteration:
        pass
    print(f"\nlargest over {steps} steps: loss_d {worst['loss_d']:.1e}, loss_g {worst['loss_g']:.1e}, "
          f"parameters {worst['parameters']:.1e} (float32). Parameter differences are max|a - b| over all "
          "weights relative to the largest weight: a bias that feeds BatchNorm has a true gradient of 0, "
          "and Adam turns either side's rounding noise in it into a full step of either sign.")


def _side_by_side(left, right, path):
    a, b = mg.train.plots.image_grid(left[:64]), mg.train.plots.image_grid(right[:64])
    gap = np.full((a.shape[0], 24), 255, np.uint8)
    mg.train.plots.save_png(np.concatenate([a, gap, b], axis=1), path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    defaults = mg.train.config.MODEL_DEFAULTS["dcgan"]
    parser.add_argument("--batch-size", type=int, default=defaults["batch_size"])
    parser.add_argument("--lr-g", type=float, default=defaults["lr_g"], help="G's learning rate")
    parser.add_argument("--lr-d", type=float, default=defaults["lr_d"], help="D's learning rate")
    parser.add_argument("--lr", type=float, help="both networks' learning rate (overrides --lr-g and --lr-d)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--png", default="quality_side_by_side.png", help="side-by-side samples (left minigan)")
    parser.add_argument("--lockstep", type=int, nargs="?", const=50, default=None, metavar="STEPS")
    parser.add_argument("--worker", choices=["minigan", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--samples-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.lr is not None:
        args.lr_g = args.lr_d = args.lr
    if args.worker:
        return worker(args.worker, args.epochs, args.batch_size, args.lr_g, args.lr_d, args.seed, args.samples_out)
    torch_peer.require_torch()
    if args.lockstep:
        return lockstep(args.lockstep, args.batch_size, args.lr_g, args.lr_d, args.seed)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads), MINIGAN_BACKEND="numpy")
    results, samples = {}, {}
    for framework in ("minigan", "torch"):
        path = pathlib.Path(f"/tmp/minigan-quality-{framework}-{os.getpid()}.npy")
        out = subprocess.run([sys.executable, __file__, "--worker", framework, "--epochs", str(args.epochs),
                              "--batch-size", str(args.batch_size), "--lr-g", str(args.lr_g),
                              "--lr-d", str(args.lr_d), "--seed", str(args.seed),
                              "--samples-out", str(path)], env=env, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"{framework} worker failed:\n{out.stderr}")
        results[framework], samples[framework] = json.loads(out.stdout), np.load(path)
        path.unlink()
    reference = mg.metrics.Reference()
    print(f"dcgan, nonsaturating, {args.epochs} epochs, batch {args.batch_size}, lr_g {args.lr_g:g}, "
          f"lr_d {args.lr_d:g}, seed {args.seed}, "
          f"{args.threads} threads; scored by minigan's classifier, n = {mg.metrics.N_DEFAULT}\n")
    print("| framework | wall s | ms/step | FID | score | digits | smallest digit share | precision | recall |")
    print("|---|---|---|---|---|---|---|---|---|")
    for framework, r in results.items():
        s = reference.evaluate(samples[framework])
        print(f"| {framework} | {r['seconds']:.0f} | {1e3 * r['seconds'] / r['steps']:.1f} | {s['fid']:.1f} | "
              f"{s['score']:.2f} | {s['coverage']}/10 | {100 * min(s['histogram']):.1f}% | {s['precision']:.3f} | "
              f"{s['recall']:.3f} |")
    _side_by_side(samples["minigan"], samples["torch"], args.png)
    print(f"\nsamples side by side (left minigan, right PyTorch): {args.png}")


if __name__ == "__main__":
    main()
