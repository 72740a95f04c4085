"""What a GAN run records as it goes: the step records read to the host, non-finite checks, a JSON-lines log.

The gradient norms in each record are measured by the game (``gan.game.grad_norm``). They show
saturation and vanishing gradients as they happen: a generator whose gradient norm collapses
towards zero while D(G(z)) sits near 0 is the minimax loss saturating (see docs/derivations.md).
"""
import json
import math

from .. import backend
from ..errors import RunFolderError


def to_host(records):
    """The records with every device scalar (top level or one dict down) made a Python float.

    All the scalars of all the records cross to the host in one transfer (one synchronisation on
    a GPU), which is why the trainer reads its records on the logging interval, not every step.
    """
    slots = [(i, key, sub) for i, r in enumerate(records) for key, value in r.items()
             for sub in (value if isinstance(value, dict) else [None]) if _is_array(value, sub)]
    if not slots:
        return [dict(r) for r in records]
    values = [records[i][key] if sub is None else records[i][key][sub] for i, key, sub in slots]
    xp = backend.xp_of(*values)
    host = backend.to_numpy(xp.stack([xp.asarray(v, dtype="float64") for v in values])).tolist()
    out = [{k: (dict(v) if isinstance(v, dict) else v) for k, v in r.items()} for r in records]
    for (i, key, sub), value in zip(slots, host):
        if sub is None:
            out[i][key] = value
        else:
            out[i][key][sub] = value
    return out


def _is_array(value, sub):
    item = value if sub is None else value[sub]
    return hasattr(item, "dtype") and not isinstance(item, (bool, int, float))


def nonfinite(named_arrays):
    """The names of the arrays that hold a NaN or an infinity, read back in one host synchronisation.

    ``named_arrays``: (name, array) pairs on one backend.
    """
    names, arrays = zip(*named_arrays)
    xp = backend.xp_of(*arrays)
    finite = backend.to_numpy(xp.stack([xp.isfinite(a).all() for a in arrays]))
    return [name for name, ok in zip(names, finite) if not ok]


def nonfinite_state(networks):
    """Names of the weights, BatchNorm statistics and optimizer moments that hold a NaN or an infinity.

    ``networks``: {"G": (model, optimizer), ...}; the names read like "G 0.W" or "G's Adam v of 0.W".
    """
    named = []
    for net, (model, opt) in networks.items():
        named += [(f"{net} {name}", p.data) for name, p in model.named_parameters()]
        named += [(f"{net} {name}", b) for name, b in model.named_buffers()]
        for (name, _), state in zip(model.named_parameters(), opt.state):
            named += [(f"{net}'s {type(opt).__name__} {key} of {name}", value) for key, value in state.items()]
    return nonfinite(named)


class MetricsLog:
    """Append-only JSON lines, one record (a dict of numbers) per line; flushed after every line.

    Non-finite numbers are written as ``null`` (JSON has no NaN or Infinity), so the file stays
    valid JSON whatever the run did. ``records`` (a resumed run's, up to its checkpoint's step)
    replace the file's contents first; None appends to what is there.
    """

    def __init__(self, path, records=None):
        self.path = path
        if records is not None:
            with open(path, "w") as f:
                f.writelines(_dumps(r) + "\n" for r in records)
        self._file = open(path, "a")

    def write(self, record):
        self._file.write(_dumps(record) + "\n")
        self._file.flush()

    def close(self):
        self._file.close()


def _finite_or_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    return value


def _dumps(record):
    return json.dumps(_finite_or_none(record), allow_nan=False)


def read_metrics(path):
    """The records of a metrics.jsonl file, as a list of dicts ([] when the file does not exist).

    A torn last line (a crash while it was written) is skipped; a bad line anywhere else, or one
    that is not a record, is a RunFolderError naming the file and the line (nothing minigan writes
    looks like that: the file was changed by hand or by another program).
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [line for line in f if line.strip()]
    except FileNotFoundError:
        return []
    records = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            if number == len(lines):
                break
            raise RunFolderError(f"{path}: line {number} is not JSON ({error}); minigan keeps the records before "
                                 "the checkpoint's step from this file (mend or delete that line, or move the file "
                                 "away to continue without them)") from None
        if not isinstance(record, dict):
            raise RunFolderError(f"{path}: line {number} is not a record (a JSON object), got "
                                 f"{type(record).__name__} (mend or delete that line, or move the file away)")
        records.append(record)
    return records
