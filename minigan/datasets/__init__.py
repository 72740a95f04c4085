"""Data sets shipped inside minigan: mnist-5k, 5,000 real MNIST digits (see its README)."""
