"""The evaluator: a small digit classifier made of minigan layers, whose features judge generators.

FID and the Inception Score were defined on an ImageNet network (Inception v3); on 28x28 digits
its features mean little, so the FID authors advise a network trained on the data set itself,
and the MNIST literature scores generators with an MNIST classifier. Scores computed with
different classifiers (or different sample counts) cannot be compared, so minigan ships one
frozen classifier (``minigan/metrics/mnist-classifier.npz``) and ``minigan train-classifier``
rebuilds it, or one for another data set, reproducibly from a seed.

The network (``build``), 28x28 images in [0, 1] to 10 logits:

    Conv2d(1, 32, 4, 2, 1) -> ReLU            (32 x 14 x 14)
    Conv2d(32, 64, 4, 2, 1) -> ReLU           (64 x 7 x 7)
    Conv2d(64, 64, 3, 2, 1) -> ReLU           (64 x 4 x 4)
    Flatten -> Dense(1024, 128) -> ReLU       the 128 features that FID and precision/recall use
    Dense(128, 10)                            logits; softmax gives p(y|x)

It is trained with ``losses.softmax_cross_entropy`` and Adam on all but a held-out,
class-balanced split of the data (the split is part of the saved file), with each training
image shifted by up to 2 pixels at random every epoch (the digits are not always centred).
"""
import dataclasses
import json
import math
import pathlib

import numpy as np

from .. import backend, data, losses
from ..data.formats import CHECKPOINT as CHECKPOINT_FORMAT, CLASSIFIER as FORMAT, DAMAGED_NPZ, read_archive, write_atomically
from ..errors import UserError
from ..nn import Conv2d, Dense, Flatten, ReLU, Sequential
from ..optim import Adam

SHIPPED = pathlib.Path(__file__).resolve().parent / "mnist-classifier.npz"
SHIPPED_KNOWS = (None, "mnist")        # the --data whose runs the shipped classifier can score: MNIST's digits
FEATURES = 128


class ClassifierError(UserError, ValueError):
    """A classifier file that cannot be read or does not fit the network; the message names the file."""


def build(rng=0, n_classes=10):
    """(features, head): the network of the module docstring, split after the 128 features."""
    rng = backend.as_rng(rng)
    features = Sequential(
        Conv2d(1, 32, 4, 2, 1, init="torch", rng=rng), ReLU(),
        Conv2d(32, 64, 4, 2, 1, init="torch", rng=rng), ReLU(),
        Conv2d(64, 64, 3, 2, 1, init="torch", rng=rng), ReLU(),
        Flatten(), Dense(64 * 4 * 4, FEATURES, init="torch", rng=rng), ReLU(),
    )
    return features, Sequential(Dense(FEATURES, n_classes, init="torch", rng=rng))


@dataclasses.dataclass
class Classifier:
    """A trained evaluator: the two halves of the network and what it was trained on.

    ``heldout``: the indices of the held-out images in the data set it was trained on (sorted);
    ``data``: that data set's folder (None: the embedded digits); ``accuracy``: on the held-out split;
    ``fingerprint``: ``data.fingerprint`` of that data set's images (None in files from before it was
    recorded, such as the shipped one, whose data ship with minigan).
    """

    features: Sequential
    head: Sequential
    heldout: np.ndarray
    data: str = None
    accuracy: float = None
    seed: int = 0
    fingerprint: dict = None

    def _batches(self, images, chunk=500):
        x = np.asarray(backend.to_numpy(images), dtype=np.float32)
        if x.ndim != 4 or x.shape[1:] != (1, 28, 28):
            raise ValueError(f"Classifier: images must be (N, 1, 28, 28) in [0, 1], got {x.shape}")
        for i in range(0, len(x), chunk):
            yield backend.asarray(x[i:i + chunk], "float32")

    def embed(self, images):
        """The 128 penultimate features of each image, float64 on the host. Shapes: (N, 1, 28, 28) -> (N, 128)."""
        self.features.eval()
        return np.concatenate([backend.to_numpy(self.features(x)) for x in self._batches(images)]).astype(np.float64)

    def predict(self, images):
        """p(y|x) for each image, float64 on the host. Shapes: (N, 1, 28, 28) -> (N, 10)."""
        self.features.eval()
        logits = [backend.to_numpy(self.head(self.features(x))) for x in self._batches(images)]
        return np.exp(losses.log_softmax(np.concatenate(logits).astype(np.float64)))

    def heldout_images(self):
        """The held-out real images (N, 1, 28, 28) of the data it was trained on: the metrics' reference."""
        return self.heldout_set()[0]

    def check_trained_on(self, images, name):
        """ClassifierError unless this classifier was trained on ``images`` (by fingerprint), the training
        data ``name`` of runs it is to score: it scores them against its own held-out images, and runs on
        other data would be compared with unlike images. A classifier from before fingerprints passes."""
        if self.fingerprint is not None and data.fingerprint(images) != self.fingerprint:
            raise ClassifierError(f"it was trained on {self.data or 'the embedded digits'}, not on {name}, and "
                                  "it scores runs against its own held-out images (train one on the same data "
                                  f"with minigan train-classifier --data {name})")

    def heldout_set(self):
        """(images (N, 1, 28, 28), labels (N,)) of the held-out split: the reference, and its classes for intra-FID."""
        images, labels = data.load_mnist(self.data)
        if self.fingerprint is not None and data.fingerprint(images) != self.fingerprint:
            raise ClassifierError(f"the data this classifier was trained on ({self.data or 'the embedded digits'}) "
                                  f"have changed since: {self.fingerprint['n']} images then, {len(images)} now, and "
                                  "other contents; its held-out images would be other images (train a new one with "
                                  "minigan train-classifier)")
        return images[self.heldout], labels[self.heldout]

    def save(self, path):
        """Write the weights, the split and the provenance to the .npz file ``path``, atomically (a crash
        while saving over an existing classifier leaves the old one whole)."""
        arrays = {f"features/{k}": v for k, v in self.features.state_dict().items()}
        arrays.update({f"head/{k}": v for k, v in self.head.state_dict().items()})
        meta = {"format": FORMAT, "data": self.data, "accuracy": self.accuracy, "seed": self.seed,
                "fingerprint": self.fingerprint}
        write_atomically(path, lambda f: np.savez_compressed(
            f, heldout=np.asarray(self.heldout, np.int64), meta=np.array(json.dumps(meta)), **arrays))


def load(path=None):
    """The classifier saved at ``path`` (default: the one shipped with minigan); ClassifierError if unusable."""
    path = pathlib.Path(path) if path is not None else SHIPPED
    if not path.is_file():
        raise ClassifierError(f"{path}: no such classifier file")
    try:
        arrays, meta = read_archive(path)
    except DAMAGED_NPZ as error:
        raise ClassifierError(f"{path}: not a readable minigan classifier ({type(error).__name__}: {error})") from None
    found = meta.get("format") if isinstance(meta, dict) else meta
    if found == CHECKPOINT_FORMAT:
        raise ClassifierError(f"{path}: a checkpoint of minigan train, not a classifier (make one with "
                              "minigan train-classifier)")
    if not isinstance(meta, dict) or found != FORMAT or "heldout" not in arrays:
        raise ClassifierError(f"{path}: not a minigan classifier (format {FORMAT!r} expected)")
    heldout = arrays.pop("heldout")
    features, head = build()
    try:
        for prefix, net in (("features/", features), ("head/", head)):
            net.load_state_dict({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
    except (KeyError, ValueError, TypeError) as error:
        raise ClassifierError(f"{path}: does not fit the classifier network: {error}") from None
    fingerprint = meta.get("fingerprint")
    if fingerprint is not None and not (isinstance(fingerprint, dict) and set(fingerprint) == {"n", "sha1"}):
        raise ClassifierError(f"{path}: malformed data fingerprint {fingerprint!r}")
    return Classifier(features, head, heldout, meta.get("data"), meta.get("accuracy"), meta.get("seed", 0),
                      fingerprint)


def load_for(path, data_name):
    """The classifier at ``path`` that is to score runs trained on ``data_name`` (a ``--data`` value; None:
    the embedded digits): ``load``, then ClassifierError unless it was trained on that data
    (``Classifier.check_trained_on``), since runs are scored against its own held-out images."""
    judge = load(path)
    if data_name is not None:
        judge.check_trained_on(data.load_mnist(data_name)[0], data_name)
    return judge


def shift(images, rng, max_shift=2):
    """Each image moved by a random whole number of pixels in [-max_shift, max_shift] along each axis.

    Pixels that move in are 0 (background). Shapes: (N, 1, H, W) -> same.
    """
    N, _, H, W = images.shape
    padded = np.pad(images, ((0, 0), (0, 0), (max_shift, max_shift), (max_shift, max_shift)))
    dy, dx = rng.integers(0, 2 * max_shift + 1, size=(2, N))
    rows = dy[:, None] + np.arange(H)[None, :]                       # (N, H)
    cols = dx[:, None] + np.arange(W)[None, :]                       # (N, W)
    return padded[np.arange(N)[:, None, None], 0, rows[:, :, None], cols[:, None, :]][:, None]


def train_classifier(data_dir=None, epochs=30, batch_size=64, lr=1e-3, heldout=1000, seed=0, log=print):
    """Train the evaluator on an MNIST-format data set (default: the embedded digits); returns a Classifier.

    ``heldout`` images (class-balanced, seeded) are kept out of training and give the reported
    accuracy. The same arguments on the same machine give the same weights.
    """
    images, labels = data.load_mnist(data_dir)
    if len(images) == 0:
        raise ClassifierError(f"{data_dir}: holds no images")
    if images.shape[1:] != (1, 28, 28):
        raise ClassifierError(f"{data_dir}: the classifier takes 28x28 images, got {images.shape[2:]}")
    if labels.min() < 0 or labels.max() > 9:
        raise ClassifierError(f"{data_dir}: labels must be the classes 0 to 9, found {int(labels.min())} to "
                              f"{int(labels.max())}")
    if not 0 < heldout <= len(images) - batch_size:
        raise ClassifierError(f"heldout is {heldout}, but the {len(images)} images must give at least one held-out "
                              f"image and leave a batch of {batch_size} to train on (use a --heldout of at most "
                              f"{max(0, len(images) - batch_size)})")
    test = data.balanced_subset(labels, heldout, seed=seed)
    train = np.setdiff1d(np.arange(len(images)), test)
    features, head = build(rng=seed, n_classes=int(labels.max()) + 1)
    net = Sequential(*features, *head)
    opt = Adam(net.parameters(), lr=lr, betas=(0.9, 0.999))
    rng = np.random.default_rng([seed, 1])
    for epoch in range(epochs):
        opt.lr = lr * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))  # cosine decay to 0
        order = train[rng.permutation(len(train))]
        x_all = shift(images[order], rng)
        losses_seen = [_classifier_step(net, opt, x_all[i:i + batch_size], labels[order[i:i + batch_size]])
                       for i in range(0, len(order) - batch_size + 1, batch_size)]
        where = (data_dir if data_dir is None or data.download.is_name(data_dir)      # a name, or a path usable
                 else str(pathlib.Path(data_dir).expanduser().resolve()))           # from anywhere
        classifier = Classifier(features, head, test, where, seed=seed,
                                fingerprint=data.fingerprint(images))
        accuracy = float((classifier.predict(images[test]).argmax(axis=1) == labels[test]).mean())
        features.train()
        log(f"epoch {epoch + 1}/{epochs} | loss {np.mean(losses_seen):.4f} | held-out accuracy {accuracy:.4f}")
    classifier.accuracy = accuracy
    return classifier


def _classifier_step(net, opt, x, y):
    opt.zero_grad()
    loss, d_logits = losses.softmax_cross_entropy(net(backend.asarray(x, "float32")), backend.asarray(y))
    net.backward(d_logits)
    opt.step()
    return loss
