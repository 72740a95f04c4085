"""The full GAN training step, minigan against the same models in PyTorch, at several batch sizes.

    python bench/train_step.py                    # dcgan and mlp at batch 32, 64, 128; 9 rounds
    python bench/train_step.py --quick            # 3 rounds of shorter bursts (under 2 minutes)
    python bench/train_step.py --native-blas      # OpenBLAS picks its own kernels (see below)
    python bench/train_step.py --backend cupy --batches 64 256 1024    # on a GPU, against PyTorch CUDA
    python bench/train_step.py --numpy-alone      # and minigan without its compiled CPU loops, in the same rounds
    python bench/train_step.py --memory 1000      # minigan's resident memory over 1,000 dcgan steps
    python bench/train_step.py --models dcgan --batches 64 --penalties wgan-gp r1    # penalised steps

The step is ``minigan.gan.game.gan_step``: G makes fakes, D on the real and the fake batch, one Adam
step for D, G through the frozen D, one Adam step for G. The PyTorch side is the same game on
copies of minigan's networks (``torch_peer.TorchGame``). Before any timing, one step of each is
compared on the same weights and data: the losses and every gradient must agree, so the timing
compares the same work. ``--penalties wgan-gp r1`` times penalised steps too: wgan-gp is the
wasserstein loss with WGAN-GP's term (λ 10, center 1, on interpolates), r1 the nonsaturating loss
with R1 (γ 10, on the real batch), both with a BatchNorm-free D; minigan's second-order gradient
(``gan.penalties``) against PyTorch's double backward (``create_graph=True``).

Each framework runs in its own process (their thread pools contend in one), one process per
framework, model and batch size, kept alive while they take turns (``paired.py``): in each round every process
times a short burst of steps on random (never zero) data, after a warm-up, while the others wait
idle, and reports the burst's median; the order alternates between rounds. Each round's ratio
compares two bursts a second apart, so a shared machine's slow drifts (which moved whole runs by
20-30% here) cancel; the table gives the median over rounds and the range of the round ratios.
GFLOP/s counts the matrix-product arithmetic of the step (forward 2·M·K·N per Dense and
convolution; G forward and backward, D three times forward and backward); peak MB is the
process's peak resident memory (a penalised row gives no GFLOP/s: its products are not counted).
On a GPU each step is synchronised before the clock is read.

This machine's environment sets ``OPENBLAS_CORETYPE=Haswell`` and ``OPENBLAS_L2_SIZE``, which
force OpenBLAS onto its AVX2 kernels; a user's machine does not. ``--native-blas`` removes both
variables for the timed processes only; the table's header names the kernel OpenBLAS reports
(threadpoolctl). PyTorch is the peer here, never a dependency of minigan.

On the CPU, minigan's elementwise work runs in numba-compiled loops (``minigan.backend.cpu``) when
numba is installed; the header says whether it is. ``--numpy-alone`` adds a third process to the
rounds, minigan with those loops off (the same numbers, bit for bit), and a column for it: what the
loops buy, measured beside the rest.
"""
import argparse
import os
import pathlib
import statistics
import subprocess
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import paired  # noqa: E402
import torch_peer  # noqa: E402

import minigan as mg  # noqa: E402

BLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _inputs(model, batch, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((batch, 1, 28, 28)).astype(np.float32), rng.standard_normal((batch, 100)).astype(np.float32)


def matmul_gflop(model, batch):
    """Matrix-product GFLOP of one step: 3 x G's forward (forward + backward) and 8 x D's (module docstring)."""
    G, D = mg.models.build(model, rng=0)
    real, z = _inputs(model, batch)

    def forward_flop(net, x):
        total = 0
        for layer in net:
            y = layer(x)
            if isinstance(layer, mg.nn.Dense):
                total += 2 * x.shape[0] * layer.in_features * layer.out_features
            elif isinstance(layer, mg.nn.Conv2d):
                total += 2 * y.shape[0] * y.shape[2] * y.shape[3] * layer.W.data.size
            elif isinstance(layer, mg.nn.ConvTranspose2d):
                total += 2 * x.shape[0] * x.shape[2] * x.shape[3] * layer.W.data.size
            x = y
        return total

    return (3 * forward_flop(G, z) + 8 * forward_flop(D, real)) / 1e9


# The penalised steps: (loss, the penalty term); "none" is the default step.
PENALTIES = {"none": ("nonsaturating", None), "wgan-gp": ("wasserstein", mg.penalties.wgan_gp(10.0)),
             "r1": ("nonsaturating", mg.penalties.r1(10.0))}


def _minigan_step(model, batch, backend, eager=False, penalty="none"):
    mg.set_backend(backend)
    name, term = PENALTIES[penalty]
    G, D = mg.models.build(model, rng=0, d_norm=term is None)
    loss = mg.losses.get(name)
    defaults = mg.train.config.MODEL_DEFAULTS[model]
    opt_g = mg.optim.Adam(G.parameters(), lr=defaults["lr_g"])
    opt_d = mg.optim.Adam(D.parameters(), lr=defaults["lr_d"])
    real, z = (mg.backend.asarray(a) for a in _inputs(model, batch))
    if term is not None:                           # the penalised step runs eagerly (a CUDA graph does not record it)
        rng = np.random.default_rng(0)
        step = lambda: mg.game.gan_step(G, D, loss, opt_g, opt_d, real, z, penalties=(term,), rng=rng)  # noqa: E731
        return step, (sys.modules["cupy"].cuda.Device().synchronize if backend == "cupy" else (lambda: None))
    if backend == "numpy":
        return (lambda: mg.game.gan_step(G, D, loss, opt_g, opt_d, real, z)), (lambda: None)
    step = (lambda *a: mg.game.gan_step(G, D, loss, opt_g, opt_d, *a)) if eager else \
        mg.graph.CapturedStep(G, D, loss, opt_g, opt_d)
    return (lambda: step(real, z)), sys.modules["cupy"].cuda.Device().synchronize


def _torch_step(model, batch, backend, threads, penalty="none"):
    torch = torch_peer.require_torch()
    torch.set_num_threads(threads)
    device = "cuda" if backend == "cupy" else "cpu"
    game = _torch_game(model, penalty, device)
    real, z = (torch.as_tensor(a, device=device) for a in _inputs(model, batch))
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    return (lambda: game.step(real, z)), sync


def _torch_game(model, penalty, device="cpu"):
    name, term = PENALTIES[penalty]
    G, D = mg.models.build(model, rng=0, d_norm=term is None)
    defaults = mg.train.config.MODEL_DEFAULTS[model]
    return torch_peer.TorchGame(G, D, loss=name, lr_g=defaults["lr_g"], lr_d=defaults["lr_d"], device=device,
                                penalty=term, rng=np.random.default_rng(0))


def worker(framework, model, batch, backend, threads, penalty="none"):
    """A timing process for one step (``paired.serve``)."""
    if framework != "torch":
        mg.backend.tune_allocator()
    if framework == "numpy-alone":
        mg.backend.cpu.set_enabled(False)
    step, sync = (_torch_step(model, batch, backend, threads, penalty) if framework == "torch"
                  else _minigan_step(model, batch, backend, eager=framework == "eager", penalty=penalty))
    paired.serve({"step": step}, sync)


def memory_over_steps(model, batch, steps, every=100):
    """minigan's resident memory (MB) every ``every`` steps of a float32 training step: it must stay flat."""
    mg.backend.tune_allocator()
    step, sync = _minigan_step(model, batch, "numpy")
    print(f"# resident memory of minigan's {model} step, batch {batch}, {steps} steps (VmRSS, MB)\n")
    print("| step | MB |\n|---|---|")
    for i in range(1, steps + 1):
        step()
        if i == 1 or i % every == 0:
            rss = paired.status_mb("VmRSS")
            print(f"| {i} | {rss:.1f} |" if rss is not None else f"| {i} | unknown |", flush=True)


def check_same_step(model, batch=16, penalty="none"):
    """One step of each side on the same weights and data, in float32: the largest relative differences."""
    torch = torch_peer.require_torch()
    name, term = PENALTIES[penalty]
    G, D = mg.models.build(model, rng=0, d_norm=term is None)
    defaults = mg.train.config.MODEL_DEFAULTS[model]
    game = _torch_game(model, penalty)
    real, z = _inputs(model, batch)
    ours = mg.game.gan_step(G, D, mg.losses.get(name), mg.optim.Adam(G.parameters(), lr=defaults["lr_g"]),
                            mg.optim.Adam(D.parameters(), lr=defaults["lr_d"]), real, z,
                            penalties=(term,) if term else (), rng=np.random.default_rng(0))
    theirs = [float(v.detach()) for v in game.step(torch.as_tensor(real), torch.as_tensor(z))]
    loss_d = ours["loss_d"] + (ours[term.name] if term else 0.0)      # torch's loss_d holds the penalty
    loss = max(abs(loss_d - theirs[0]) / abs(theirs[0]), abs(ours["loss_g"] - theirs[1]) / abs(theirs[1]))
    grads = []
    for net, tnet in ((G, game.G), (D, game.D)):              # normwise per network, as in the lockstep
        pairs = [(p.grad.T if isinstance(layer, mg.nn.Dense) and p is layer.W else p.grad, tp.grad.numpy())
                 for layer, tlayer in zip(net, tnet) for p, tp in zip(layer.parameters(), tlayer.parameters())]
        grads.append(max(float(np.abs(a - b).max()) for a, b in pairs) / max(float(np.abs(b).max()) for _, b in pairs))
    return loss, max(grads)


def blas_kernel(env):
    """What OpenBLAS reports (kernel, threads) in a process started with ``env``."""
    code = ("import json, numpy, threadpoolctl; print(json.dumps([(i.get('internal_api'), i.get('architecture'), "
            "i.get('num_threads')) for i in threadpoolctl.threadpool_info() if i.get('user_api') == 'blas']))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else "unknown (pip install threadpoolctl)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["dcgan", "mlp"], choices=["dcgan", "mlp"])
    parser.add_argument("--batches", nargs="+", type=int, default=None, help="default 32 64 128 (cupy: 64 256 1024)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds of timed steps per burst")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 0.3 s bursts")
    parser.add_argument("--native-blas", action="store_true", help=f"unset {' and '.join(BLAS_VARIABLES)}")
    parser.add_argument("--backend", choices=["numpy", "cupy"], default="numpy")
    parser.add_argument("--numpy-alone", action="store_true",
                        help="also time minigan without its compiled CPU loops (numpy backend)")
    parser.add_argument("--memory", type=int, metavar="STEPS", help="only print minigan's memory over STEPS steps "
                        "of the first model at the first batch size")
    parser.add_argument("--penalties", nargs="+", default=["none"], choices=list(PENALTIES),
                        help="steps to time: the default one (none) and penalised ones (wgan-gp, r1)")
    parser.add_argument("--worker", nargs=3, metavar=("FRAMEWORK", "MODEL", "PENALTY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    batches = args.batches or ([64, 256, 1024] if args.backend == "cupy" else [32, 64, 128])
    rounds, burst = (3, 0.3) if args.quick else (args.rounds, args.min_time)
    if args.worker:
        framework, model, penalty = args.worker
        return worker(framework, model, batches[0], args.backend, args.threads, penalty)
    if args.memory:
        return memory_over_steps(args.models[0], batches[0], args.memory)
    torch_peer.require_torch()
    if args.backend == "cupy":                     # say it here in one line, not in a worker's traceback
        try:
            mg.set_backend("cupy")
        except mg.backend.BackendError as error:
            sys.exit(f"train_step.py: {error}")
        mg.set_backend("numpy")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads), MINIGAN_BACKEND=args.backend)
    if args.native_blas:
        for name in BLAS_VARIABLES:
            env.pop(name, None)
    print(f"# GAN training step, {args.backend}; {args.threads} threads; OpenBLAS {blas_kernel(env)}; "
          f"{rounds} paired round(s) of >= {burst} s bursts" + (f"; {mg.backend.cpu.status()}" if args.backend == "numpy"
                                                                 else "") + "\n")
    frameworks = (["minigan", "eager", "torch"] if args.backend == "cupy"
                  else ["minigan", "numpy-alone", "torch"] if args.numpy_alone else ["minigan", "torch"])
    rows = []
    for model in args.models:
        for penalty in args.penalties:
            loss, grads = check_same_step(model, penalty=penalty)
            print(f"{_label(model, penalty)}: one step compared first: losses agree to {loss:.1e}, gradients to "
                  f"{grads:.1e} (max |a - b| over a network's gradients relative to its largest; float32)")
            for batch in batches:
                commands = {f: [sys.executable, __file__, "--worker", f, model, penalty, "--backend", args.backend,
                                "--threads", str(args.threads), "--batches", str(batch)] for f in frameworks}
                rows.append(_row(_label(model, penalty), batch, *paired.paired_rounds(commands, env, rounds, burst),
                                 gflop=matmul_gflop(model, batch) if penalty == "none" else None))
    eager = (" (CUDA graph) | minigan eager ms" if args.backend == "cupy"
             else " | minigan, NumPy alone: ms (ratio to minigan), peak MB" if args.numpy_alone else "")
    print(f"\n| model | batch | minigan ms{eager} | torch ms | ratio | ratio range | images/s | GFLOP/s "
          f"| peak {'host ' if args.backend == 'cupy' else ''}MB of the process (minigan / torch) |")
    print("|---|---|---|---|---|---|---|---|---|" + ("---|" if eager else ""))
    print("\n".join(rows))


def _label(model, penalty):
    return model if penalty == "none" else f"{model} + {penalty}"


def _row(model, batch, runs, peaks, gflop):
    times = {framework: [r["step"] for r in rounds] for framework, rounds in runs.items()}
    ours, theirs = times["minigan"], times["torch"]
    ratios = [a / b for a, b in zip(ours, theirs)]
    ms = statistics.median(ours)
    eager = f" {statistics.median(times['eager']):.2f} |" if "eager" in times else ""
    if "numpy-alone" in times:
        alone = times["numpy-alone"]
        eager = (f" {statistics.median(alone):.2f} ({statistics.median([a / b for a, b in zip(alone, ours)]):.2f}), "
                 f"peak {peaks['numpy-alone']:.0f} MB |")
    return (f"| {model} | {batch} | {ms:.2f} |{eager} {statistics.median(theirs):.2f} | "
            f"{statistics.median(ratios):.2f} | {min(ratios):.2f}-{max(ratios):.2f} | {1e3 * batch / ms:.0f} | "
            f"{'-' if gflop is None else f'{gflop / (ms / 1e3):.0f}'} | {peaks['minigan']:.0f} / {peaks['torch']:.0f} |")


if __name__ == "__main__":
    main()
