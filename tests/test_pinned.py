"""Every pinned result of an earlier version is reproduced bit for bit (see pinned.py)."""

import warnings

import numpy as np
import pytest

import pinned

TABLE = pinned.load()
CASES = dict(pinned.estimate_cases())


def test_table_covers_every_case():
    assert set(CASES) == set(TABLE) - {"_version"}


@pytest.mark.parametrize("cid", sorted(CASES))
def test_pinned(cid):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        got = CASES[cid]()
    assert got == TABLE[cid], "%s differs from the pinned result of fastscore %s" % (
        cid, TABLE["_version"])


def test_comparison_can_fail():
    """One ulp off in one number is a difference."""
    cid = "estimate Normal builtin compiled rloo"
    rec = CASES[cid]()
    rec["value"][0] = np.nextafter(float.fromhex(rec["value"][0]), np.inf).hex()
    assert rec != TABLE[cid]
