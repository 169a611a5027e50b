"""The registry of tests/cases.py covers every distribution and kernel family, and
each of its records is consistent with the distribution it describes."""

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
