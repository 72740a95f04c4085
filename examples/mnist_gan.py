"""A GAN on MNIST in one page: data, two networks, a loss, and the two optimizer steps.

    python examples/mnist_gan.py                          # MLP GAN on the embedded 5,000 digits, ~20 s
    python examples/mnist_gan.py --epochs 30 --out mlp.png
    python examples/mnist_gan.py --backend cupy           # on an NVIDIA GPU

Read it top to bottom: everything the library's trainer does (minus checkpoints and
pictures over time) is here, in the open. Every backward pass it calls is written by hand
in minigan/nn and proven by `python -m minigan.gradcheck`.
"""
import argparse
import time

import numpy as np

import minigan as mg


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train the MLP GAN on MNIST and save a grid of samples.")
    parser.add_argument("--backend", choices=["numpy", "cupy"], default="numpy")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="mnist_gan.png", help="where to save the final sample grid")
    args = parser.parse_args(argv)
    mg.set_backend(args.backend)
    mg.backend.tune_allocator()                     # keep freed memory: much faster steps on Linux

    # Data: 5,000 real digits shipped with minigan, float32 (N, 1, 28, 28) in [0, 1].
    images, _ = mg.data.load_mnist()
    batches = mg.data.Batches(images, args.batch_size, rng=args.seed)

    # Networks: G maps 100 noise numbers to an image, D maps an image to one score (a logit).
    G, D = mg.models.mlp_gan(z_dim=100, rng=args.seed)
    print(G, D, sep="\n")

    # The non-saturating loss: D separates real from fake, G maximises log D(G(z)).
    loss = mg.losses.get("nonsaturating")
    # G learns 5x faster than D: with equal rates this small, BatchNorm-free G loses the race,
    # D scores every fake ~0 and G collapses to one speckled blob (PyTorch does the same).
    # Batch 32 at 2e-3 / 4e-4: the trainer's MLP defaults, which minigan sweep found best.
    opt_g = mg.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = mg.optim.Adam(D.parameters(), lr=4e-4, betas=(0.5, 0.999))
    noise = np.random.default_rng(args.seed + 1)
    fixed_z = mg.backend.asarray(noise.standard_normal((64, 100)), "float32")

    step = 0
    for epoch in range(args.epochs):
        for real in batches:
            start = time.perf_counter()
            z = mg.backend.asarray(noise.standard_normal((len(real), 100)), "float32")

            # D step: push D(real) up and D(fake) down. The fakes' gradient stops at D's input.
            fake = G(z)
            opt_d.zero_grad()
            s_real = D(real)
            loss_real, d_real = loss.d_loss_real(s_real)
            D.backward(d_real)
            s_fake = D(fake)
            loss_fake, d_fake = loss.d_loss_fake(s_fake)
            D.backward(d_fake)
            opt_d.step()

            # G step: score the same fakes with the updated D and send the gradient through D into G.
            opt_g.zero_grad()
            loss_g, d_scores = loss.g_loss(D(fake))
            G.backward(D.backward(d_scores))
            D.zero_grad()                       # what that pass left in D's gradients is not D's to use
            opt_g.step()

            step += 1
            if step % 200 == 0:
                p_real = float(mg.losses.sigmoid(s_real).mean())
                p_fake = float(mg.losses.sigmoid(s_fake).mean())
                print(f"step {step} | loss_d {loss_real + loss_fake:.2f} | loss_g {loss_g:.2f} | "
                      f"D(x) {p_real:.2f} | D(G(z)) {p_fake:.2f} | {1e3 * (time.perf_counter() - start):.1f} ms/step")
        print(f"epoch {epoch + 1}/{args.epochs} done")

    G.eval()
    mg.train.plots.save_png(mg.train.plots.image_grid(G(fixed_z)), args.out)
    print(f"wrote {args.out}")
    return G


if __name__ == "__main__":
    main()
