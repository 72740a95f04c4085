"""What a GAN run records: gradient norms, discriminator outputs, and a JSON-lines log.

Gradient norms show saturation and vanishing gradients as they happen: a generator whose
gradient norm collapses towards zero while D(G(z)) sits near 0 is the minimax loss
saturating (see docs/derivations.md).
"""
import json
import math

from .losses import sigmoid


def grad_norm(params):
    """Global L2 norm of the gradients: sqrt(sum over parameters of sum(grad²)), a float."""
    return math.sqrt(sum(float((p.grad * p.grad).sum()) for p in params))


def layer_grad_norms(model):
    """{"<index> <layer>": L2 norm of that layer's gradients} for each layer of a Sequential with parameters."""
    return {f"{i} {type(layer).__name__}": grad_norm(layer.parameters())
            for i, layer in enumerate(model) if layer.parameters()}


def mean_output(scores, sigmoid_based):
    """D's mean output: mean(sigma(s)), the probability "real", for sigmoid losses; else the mean raw score."""
    return float((sigmoid(scores) if sigmoid_based else scores).mean())


class MetricsLog:
    """Append-only JSON lines, one record (a dict of numbers) per line; flushed after every line."""

    def __init__(self, path, keep_until_step=None):
        self.path = path
        if keep_until_step is not None:                   # a resumed run: drop records past the checkpoint
            records = [r for r in read_metrics(path) if r.get("step", 0) <= keep_until_step]
            with open(path, "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in records)
        self._file = open(path, "a")

    def write(self, record):
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def close(self):
        self._file.close()


def read_metrics(path):
    """The records of a metrics.jsonl file, as a list of dicts ([] when the file does not exist)."""
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


