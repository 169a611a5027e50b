"""The registry of tests/cases.py covers every distribution and kernel family, and
each of its records is consistent with the distribution it describes."""

import os
import re

import numpy as np
import pytest

import fastscore as fs
from cases import CASES, NAMES
from fastscore import _specs


def test_a_case_for_every_distribution_and_parameterisation():
    classes = {getattr(fs, nm) for nm in fs.distributions.__all__ if nm != "Distribution"}
    assert classes == {case.cls for case in CASES}
    for case in CASES:
        if {"probs", "logits"} & set(case.elements[0]):  # both parameterisations have a case
            passed = {p for c in CASES if c.cls is case.cls for p in c.elements[0]}
            assert {"probs", "logits"} <= passed, case


#: The options under which an estimator kind runs a variant of a family's kernel.
VARIANTS = [("score", {}),  # log-space kernels where a concentration is below 1
            ("concrete", dict(temperature=0.5)),
            ("concrete", dict(temperature=0.5, straight_through=True)),
            ("rebar", dict(temperature=0.5)), ("arm", {}), ("disarm", {})]


def test_a_case_for_every_kernel_family():
    """Every kernel family is run by some case: as its plan's own family, or the
    variant an estimator kind runs it on (relaxations, antithetic draws)."""
    from fastscore._kinds import KINDS

    used = set()
    for case in CASES:
        k = min(3, len(case.elements))  # the elements inside the parameter space
        d = case.make((k,), np.arange(k))
        plan = d.plan()
        used |= {plan.family.name, plan.inline_family.name}
        for name, options in VARIANTS:
            try:
                variant = KINDS[name].configured(**options).plan_for(d)
            except NotImplementedError:
                continue
            used |= {variant.family.name, variant.inline_family.name}
    assert used == {fam.name for fam in _specs.FAMILIES}


def test_names_are_unique_and_in_order():
    assert NAMES == [case.name for case in CASES] and len(set(NAMES)) == len(NAMES)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_records_describe_the_distribution(case):
    d = case.make()
    keys = set(case.elements[0])
    assert all(set(e) == keys for e in case.elements)
    assert len(case.elements) >= 3  # the closed forms use elements 0 and 2
    assert set(d.param_names) <= keys and set(case.valid) == keys
    assert d.finite_support == case.counted
    assert case.make((2,)).batch_shape == (2,) and case.make((2, 3)).batch_shape == (2, 3)
    for i in range(len(case.elements)):
        case.make((), [i])  # every element is valid
    assert case.truths and case.invalid
    for truth in case.truths:
        mean, grad = case.exact(truth, [0, 1])
        assert mean.shape == (2,) and list(grad) == list(d.param_names)
        assert all(np.all(np.isfinite(g)) for g in grad.values())
    x = fs.sample(d, 5, rng=0)
    assert np.all(np.isfinite(case.logpdf(case.element(0), x)))


def _unit_functions(unit):
    """{function name: its text} of the cdef functions of families/<unit>.pxi."""
    path = os.path.join(os.path.dirname(fs.__file__), "families", unit + ".pxi")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    parts = re.split(r"^(?=cdef inline )", text, flags=re.M)
    out = {}
    for part in parts:
        m = re.match(r"cdef inline [\w\s*]*?(\w+)\(", part)
        if m:
            out[m.group(1)] = part
    return out


@pytest.mark.parametrize("fam", _specs.FAMILIES, ids=lambda f: f.name)
def test_every_kernel_family_has_its_unit(fam):
    """A kernel family's code is its unit's (families/<unit>.pxi): the functions of
    every slot its row declares; and with a fused fold, its one-sample score and
    pathwise terms are the header's expression (fs_<...>_score, fs_<...>_pathwise),
    the one the fused step is built from."""
    fns = _unit_functions(fam.unit)
    vector = fam.event == "vector"
    want = [fam.name + ("_draw_event" if vector else "_draw")]
    if fam.score is not None:
        want.append(fam.name + ("_score_event" if vector else "_score"))
    if fam.fill:
        want.append(fam.name + ("_fill_events" if vector else "_fill"))
    if fam.pathwise:
        want.append(fam.name + ("_pathwise_event" if vector else "_pathwise"))
    if fam.measure:
        want.append(fam.name + "_measure_draw")
    if fam.count == "threshold":
        want.append(fam.name + "_count")
    if fam.rebar:
        want += [fam.name + "_rebar_draw", fam.name + "_rebar_terms"]
    want += [fam.name + s for s, on in (("_score_fold", fam.score_fold),
                                        ("_pathwise_fold", fam.pathwise_fold),
                                        ("_score_block", fam.score_block),
                                        ("_pathwise_block", fam.pathwise_block)) if on]
    missing = [nm for nm in want if nm not in fns]
    assert not missing, "families/%s.pxi lacks %s" % (fam.unit, missing)
    if fam.score_fold:
        assert re.search(r"\bfs_\w+_score\(", fns[fam.name + "_score"]), fam.name
    if fam.pathwise_fold:
        assert re.search(r"\bfs_\w+_pathwise\(", fns[fam.name + "_pathwise"]), fam.name
