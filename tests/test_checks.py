"""The two argument tests behind every check (minigan/checks.py)."""
import math

import numpy as np
import pytest

from minigan.checks import is_int, is_number


@pytest.mark.parametrize("value, minimum, expected", [
    (3, None, True), (-3, None, True), (3, 3, True), (2, 3, False), (0, 1, False),
    (True, None, False), (False, 0, False), (3.0, None, False), ("3", None, False), (None, 0, False),
])
def test_is_int(value, minimum, expected):
    assert is_int(value, minimum) is expected


@pytest.mark.parametrize("value, expected", [
    (1, True), (0.5, True), (-2.0, True), (math.inf, False), (math.nan, False), (True, False),
    ("1", False), (None, False), (np.float64(0.5), True),
])
def test_is_number(value, expected):
    assert is_number(value) is expected
