"""Full-size data on request: MNIST and Fashion-MNIST, fetched once into a cache folder and checked.

``--data mnist`` or ``--data fashion-mnist`` (``load_mnist("mnist")``) reads the data set from the
cache, fetching what is missing first. The files are the published gzip'd IDX files, checked against
the published MD5 sums (those torchvision lists) by pooch, which downloads into a temporary file and
moves it into place only when the sum matches: a partial or corrupt download never lands in the cache,
and a cached file that no longer matches is fetched again. Mirrors are tried in order.

The cache is ``$MINIGAN_DATA`` if set, else the user's cache folder (``~/.cache/minigan`` on Linux),
one subfolder per data set. Offline, or behind a firewall: put the four files in that subfolder by
hand (``minigan data`` prints where, and the URLs), and they are checked and used as they are.
"""
import dataclasses
import os
import pathlib

from ..errors import UserError

ENV = "MINIGAN_DATA"
TIMEOUT = 30            # seconds without a byte before a mirror counts as unreachable (a firewall drops, not refuses)
SPLITS = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


class DownloadError(UserError, RuntimeError):
    """A data set could not be fetched or checked; the message says what to do by hand."""


@dataclasses.dataclass(frozen=True)
class DataSet:
    """A downloadable data set: its mirrors (base URLs, tried in order) and {file name: "md5:<sum>"}."""

    title: str
    mirrors: tuple
    files: dict


DATASETS = {
    "mnist": DataSet("MNIST", ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"), {
        "train-images-idx3-ubyte.gz": "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "md5:d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "md5:9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "md5:ec29112dd5afa0611ce80d1b7f02629c"}),
    "fashion-mnist": DataSet("Fashion-MNIST", ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",), {
        "train-images-idx3-ubyte.gz": "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "md5:25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "md5:bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "md5:bb300cfdad3c16e7a12a480ee83cd310"}),
}


def is_name(data):
    """Whether ``--data``'s value names a downloadable data set ("mnist", "fashion-mnist") rather than a folder.

    A folder of one of those names is given as a path (``./mnist``)."""
    return isinstance(data, str) and data in DATASETS


def cache_root():
    """The folder that holds every data set's subfolder: $MINIGAN_DATA, else the user's cache folder."""
    if os.environ.get(ENV):
        return pathlib.Path(os.environ[ENV]).expanduser()
    import pooch
    return pathlib.Path(pooch.os_cache("minigan"))


def folder(name):
    """Where data set ``name``'s files are kept."""
    return cache_root() / name


def cached(name):
    """The file names of data set ``name`` present in its folder (not checked; ``fetch`` checks them)."""
    where = folder(name)
    return [file for file in DATASETS[name].files if (where / file).is_file()]


def fetch(name, split=None):
    """The folder of data set ``name`` with its files (of ``split``, "train" or "test"; None: both), fetched
    where missing and every one checked against its published MD5 sum. DownloadError when it cannot be done."""
    dataset = DATASETS[name]
    files = SPLITS[split] if split else tuple(dataset.files)
    where = folder(name)
    for file in files:
        _fetch_file(dataset, name, file, where)
    return where


def _fetch_file(dataset, name, file, where):
    """One file into ``where``, from the first mirror that serves it whole and with the right sum."""
    import pooch
    import requests
    failures = []
    for mirror in dataset.mirrors:
        try:
            pooch.retrieve(mirror + file, known_hash=dataset.files[file], fname=file, path=where,
                           progressbar=False, downloader=pooch.HTTPDownloader(timeout=TIMEOUT))
            return
        except ValueError as error:                        # pooch: the sum does not match
            failures.append(f"{mirror + file} sent a file whose checksum is wrong ({_first_line(error)})")
        except (requests.exceptions.RequestException, OSError) as error:
            failures.append(f"{mirror + file}: {_first_line(error)}")
    raise DownloadError(f"{dataset.title} could not be fetched: {'; '.join(failures)}. Nothing partial was kept. "
                        f"Offline or behind a firewall, download {', '.join(m + file for m in dataset.mirrors)} "
                        f"by hand into {where} (minigan data, with no name, lists every file and its URL)")


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def describe(name):
    """Lines for ``minigan data``: the data set, its folder, and each file with where it comes from."""
    dataset, where = DATASETS[name], folder(name)
    present = set(cached(name))
    lines = [f"{name} ({dataset.title}): {where}"]
    for file in dataset.files:
        state = "cached" if file in present else "missing"
        lines.append(f"  {file:<28} {state:<8} {dataset.mirrors[0] + file}")
    return lines
