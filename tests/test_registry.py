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


#: Kinds whose results tests/pinned.py does not pin yet (their entries need the pinned
#: table regenerated): the test below fails when this list and pinned.py disagree.
NOT_PINNED_YET = {"indecater", "vimco"}


def _kind_pieces(kind):
    """The pieces an estimator kind must have, each as (what, present)."""
    import inspect

    import calibration_cases
    import pinned
    from fastscore import _kinds, _options
    from fastscore.estimate import estimate

    cls = type(kind)
    base = _kinds.EstimatorKind
    params = inspect.signature(estimate).parameters
    doc = estimate.__doc__
    calibrated = {run[0] for case in calibration_cases.cases().values() for run in case.runs}
    kernel = kind.kernel or kind.name
    waves = getattr(kind, "waves", False)
    return [
        # its options: declared as Options, each a keyword of fs.estimate, documented there
        ("options declared", all(isinstance(o, _options.Option) and o.name == nm
                                 and nm in params and "%s :" % nm in doc
                                 for nm, o in kind.options.items())),
        ("its slot", isinstance(kind.slot, str) and bool(kind.slot)),
        # its plan transformation and the family check
        ("plan_for", callable(getattr(kind, "plan_for", None))),
        # its reference step: NumPy terms of the reference backend, or its NumPy waves
        ("reference step", (cls.wave_terms is not base.wave_terms) if waves else
         (cls.reference_terms is not base.reference_terms
          or callable(getattr(kind, "terms", None)))),
        # its finish and compiled finish: the mean block's, or its own for another block
        ("finish", kind.block == _specs.MEAN_BLOCK or cls.finish is not base.finish),
        ("compiled finish", kind.block == _specs.MEAN_BLOCK
         or cls.finish_compiled is not base.finish_compiled),
        # the wording of its non-finite terms
        ("terms wording", cls.nonfinite_terms is not base.nonfinite_terms
         or kind.terms_description != base.terms_description),
        # its kernel kind row (the wave kinds fold their NumPy terms with one too)
        ("kernel kind row", kernel in _specs.KERNEL_KINDS),
        ("calibration case", kind.name in calibrated),
        ("docs entry", '``"%s"``' % kind.name in doc),
        ("pinned entry", kind.name == "score" or kind.name in pinned.OTHER_KINDS
         or kind.name in NOT_PINNED_YET),
    ]


def test_every_estimator_kind_has_every_piece():
    """An estimator kind is one unit: options, plan, reference step, finishes, wording,
    kernel row, calibration case, docs entry and pinned entry (CONTRIBUTING.md)."""
    from fastscore._kinds import KINDS, SCORE_CV

    missing = ["%s: %s" % (name, what) for name, kind in KINDS.items()
               for what, ok in _kind_pieces(kind) if not ok]
    assert not missing, missing
    assert all(ok for _, ok in _kind_pieces(SCORE_CV))   # the cv rows' kind too


def test_pinned_kinds_match_the_list():
    import pinned
    from fastscore._kinds import KINDS

    assert set(KINDS) - {"score"} - set(pinned.OTHER_KINDS) == NOT_PINNED_YET


def test_every_kernel_kind_runs_a_kind():
    from fastscore._kinds import KINDS, SCORE_CV

    assert {k.kernel or k.name for k in list(KINDS.values()) + [SCORE_CV]} == \
        set(_specs.KERNEL_KINDS)
