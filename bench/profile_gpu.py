"""Where a CuPy training step's time goes: each layer's forward and backward, Adam, the whole step.

    python bench/profile_gpu.py                     # dcgan at batch 64 and 1024
    python bench/profile_gpu.py --model mlp --batches 64 256

Every time is the median of many repetitions, bracketed by CUDA events on the current stream
(GPU time) and by the host clock after a synchronisation (wall time). Where wall time is far
above GPU time, the GPU waits for Python to launch kernels: fewer, larger kernels (or a CUDA
graph) are what help, not faster arithmetic.
"""
import argparse
import statistics
import time

import numpy as np

import minigan as mg


def timed(fn, repeat=50, warmup=5):
    """(median GPU ms, median wall ms) of fn(), each repetition synchronised."""
    import cupy
    for _ in range(warmup):
        fn()
    cupy.cuda.Device().synchronize()
    gpu, wall = [], []
    for _ in range(repeat):
        start, stop = cupy.cuda.Event(), cupy.cuda.Event()
        t = time.perf_counter()
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        wall.append(1e3 * (time.perf_counter() - t))
        gpu.append(cupy.cuda.get_elapsed_time(start, stop))
    return statistics.median(gpu), statistics.median(wall)


def layer_rows(net, x, rng):
    """One row per layer: forward and backward (GPU ms, wall ms) on the activations of a real pass."""
    rows = []
    for i, layer in enumerate(net):
        y = layer(x)
        dy = mg.backend.asarray(rng.standard_normal(y.shape), y.dtype)

        def forward(layer=layer, x=x):
            layer(x)
            layer._cache = None

        def both(layer=layer, x=x, dy=dy):
            layer(x)
            layer.backward(dy)

        f, b = timed(forward), timed(both)
        rows.append((f"{i} {layer!r}", f, (b[0] - f[0], b[1] - f[1])))
        x = y
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="dcgan", choices=["dcgan", "mlp"])
    parser.add_argument("--batches", nargs="+", type=int, default=[64, 1024])
    args = parser.parse_args()
    mg.set_backend("cupy")
    rng = np.random.default_rng(0)
    for batch in args.batches:
        G, D = mg.models.build(args.model, rng=0)
        z = mg.backend.asarray(rng.standard_normal((batch, 100)), "float32")
        real = mg.backend.asarray(rng.random((batch, 1, 28, 28)), "float32")
        print(f"\n# {args.model}, batch {batch}: GPU ms / wall ms\n")
        print("| layer | forward | backward |\n|---|---|---|")
        for name, f, b in layer_rows(G, z, rng) + layer_rows(D, real, rng):
            print(f"| {name} | {f[0]:.3f} / {f[1]:.3f} | {b[0]:.3f} / {b[1]:.3f} |")
        loss = mg.losses.get("nonsaturating")
        opt_g, opt_d = mg.optim.Adam(G.parameters(), lr=1e-4), mg.optim.Adam(D.parameters(), lr=1e-4)
        step = lambda: mg.game.gan_step(G, D, loss, opt_g, opt_d, real, z)  # noqa: E731
        for name, fn in (("Adam step (G)", opt_g.step), ("Adam step (D)", opt_d.step), ("gan_step", step)):
            g, w = timed(fn)
            print(f"| {name} | {g:.3f} / {w:.3f} | |")


if __name__ == "__main__":
    main()
