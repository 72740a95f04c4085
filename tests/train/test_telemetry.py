"""What a run records: gradient norms, non-finite checks, and a metrics log that stays valid JSON."""
import json
import math

import numpy as np
import pytest

import minigan as mg
import minigan.errors  # noqa: F401
from minigan.train.telemetry import MetricsLog, nonfinite, read_metrics


def test_nonfinite_names_the_arrays_with_a_nan_or_an_infinity():
    arrays = [("a", np.ones(3)), ("b", np.array([1.0, np.nan])), ("c", np.array([np.inf]))]
    assert nonfinite(arrays) == ["b", "c"]
    assert nonfinite(arrays[:1]) == []


def test_non_finite_numbers_are_written_as_null(tmp_path):
    log = MetricsLog(tmp_path / "m.jsonl")
    log.write({"step": 1, "loss_d": float("nan"), "loss_g": float("inf"), "layers": {"0 Dense": -math.inf}})
    log.close()
    text = (tmp_path / "m.jsonl").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"step": 1, "loss_d": None, "loss_g": None, "layers": {"0 Dense": None}}


def test_a_torn_last_line_is_skipped_and_a_bad_middle_line_is_named(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"step": 1}\n{"step": 2}\n{"step": 3, "lo')
    assert [r["step"] for r in read_metrics(path)] == [1, 2]
    log = MetricsLog(path, records=[r for r in read_metrics(path) if r["step"] <= 1])   # a resume from step 1
    log.write({"step": 2})
    log.close()
    assert [r["step"] for r in read_metrics(path)] == [1, 2]
    path.write_text('{"step": 1}\ngarbage\n{"step": 3}\n')
    with pytest.raises(mg.errors.RunFolderError, match=r"m.jsonl: line 2 is not JSON.*mend or delete that line"):
        read_metrics(path)
    path.write_bytes(b'{"step": 1}\n\xff\xfe\x00binary\n{"step": 3}\n')
    with pytest.raises(mg.errors.RunFolderError, match=r"line 2 is not JSON"):
        read_metrics(path)
    path.write_text('{"step": 1}\n[1, 2]\n{"step": 3}\n')
    with pytest.raises(mg.errors.RunFolderError, match=r"line 2 is not a record \(a JSON object\), got list"):
        read_metrics(path)


def test_to_host_reads_every_device_scalar_at_once():
    from minigan.train.telemetry import to_host
    records = [{"step": 1, "loss_d": np.float32(0.5), "norms": {"0 Dense": np.float32(2.0)}, "ms": 3.0},
               {"step": 2, "loss_d": np.array(np.nan, np.float32)}]
    host = to_host(records)
    assert host[0] == {"step": 1, "loss_d": 0.5, "norms": {"0 Dense": 2.0}, "ms": 3.0}
    assert type(host[0]["loss_d"]) is float and math.isnan(host[1]["loss_d"]) and host[1]["step"] == 2
    assert records[0]["loss_d"].dtype == np.float32                  # the input is left alone
    assert to_host([{"step": 3}]) == [{"step": 3}]
