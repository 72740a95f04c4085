"""The DCGAN on MNIST through minigan's trainer: checkpoints, pictures and curves included.

    python examples/dcgan_mnist.py                                    # ~3 min on a 2-core CPU
    python examples/dcgan_mnist.py --epochs 30 --out runs/dcgan
    python examples/dcgan_mnist.py --data /usr/share/datasets/fashion-mnist --epochs 2
    python examples/dcgan_mnist.py --backend cupy --batch-size 128

The same as `minigan train` (see `minigan train --help` for every option); this script shows
the library call behind it. Outputs in --out: grid_epoch_*.png, samples.png, progress.gif,
curves.png, metrics.jsonl, config.json and checkpoint.npz (resume with --resume).
"""
import argparse

import minigan as mg


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train the DCGAN on MNIST-format images with minigan's trainer.")
    parser.add_argument("--backend", choices=["numpy", "cupy"], default="numpy")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--loss", choices=mg.losses.NAMES, default="nonsaturating")
    parser.add_argument("--data", default=None, help="an MNIST-format directory (default: the embedded digits)")
    parser.add_argument("--out", default=None, help="output folder (default runs/<timestamp>)")
    parser.add_argument("--resume", default=None, help="a checkpoint.npz to continue from")
    args = parser.parse_args(argv)

    if args.resume:                         # the checkpoint's own settings, with the epochs asked for
        result = mg.train.resume(args.resume, {"epochs": args.epochs, "backend": args.backend})
    else:
        config = mg.train.TrainConfig(model="dcgan", loss=args.loss, epochs=args.epochs, batch_size=args.batch_size,
                                      seed=args.seed, data=args.data, out=args.out, backend=args.backend)
        result = mg.train.train(config)
    print(f"{result['status']} after {result['step']} steps; pictures in {result['out']}")


if __name__ == "__main__":
    main()
