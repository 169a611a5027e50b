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


# -- every family is one unit with every piece its kernel rows declare ------------------
# fastscore/families/<name>.py holds the class; its rows in _specs.FAMILIES say which
# slots its kernels fill, and each slot needs its NumPy twin there (CONTRIBUTING.md,
# "Adding a family").  These tests fail, naming the family and the piece, when one is
# missing.
from fastscore import families  # noqa: E402
from fastscore._distribution import Distribution  # noqa: E402
from fastscore._hessian import _Family  # noqa: E402

FAMILY_CLASSES = [getattr(families, nm) for nm in families.__all__]


def _own(cls, name):
    """The family defines ``name`` itself (or a shared mixin does), not the base."""
    value = getattr(cls, name, None)
    return value is not None and value is not getattr(Distribution, name, None)


def _declared(cls, name):
    """The family (or one of its mixins) sets ``name``, if only to None: a decision,
    not the base's default."""
    return any(name in vars(k) for k in cls.__mro__ if k not in (Distribution, object))


def _kernel_rows(cls):
    """The kernel families the class's plans name: its family (per parameterisation for
    a _ProbsOrLogits family with a kernel per parameter), its inline and log-space
    variants."""
    base = getattr(cls, "kernel_base", None)
    names = ["%s_%s" % (base, by) for by in ("probs", "logits")] if base else [cls.family]
    names += [v for v in (cls.inline_family, cls.log_space_family) if v is not None]
    return names


def _owner(row):
    """The family class that a kernel row belongs to: the one whose kernel name is the
    longest prefix of the row's (bernoulli_arm is Bernoulli's, relaxed_bernoulli_st
    RelaxedBernoulli's)."""
    best, length, row = None, -1, row.name
    for cls in FAMILY_CLASSES:
        for name in _kernel_rows(cls):
            if (row == name or row.startswith(name + "_")) and len(name) > length:
                best, length = cls, len(name)
    return best


def _pieces(cls, row):
    """The pieces the unit ``cls`` needs for kernel row ``row`` (names of attributes)."""
    need = ["_setup", "_constants", "_log_prob", "_in_support"]
    own = row.name in _kernel_rows(cls)
    log_space = row.name == cls.log_space_family
    if own and log_space:
        need += ["_small_concentration", "_log_draw_numpy", "_log_score_numpy", "_log_f_input"]
    elif own:
        need += ["_draw_numpy"]
        if row.score is not None:
            need.append("_score_numpy")
    if row.event == "vector":
        need.append("_param_slots")
    if row.count:
        need.append("_support_values")
    if row.count == "threshold":
        need.append("_support_probs")
    if row.pathwise:
        need.append("_pathwise_numpy")
    if row.measure and not row.measure_weights:
        need += ["_measure_draw_numpy", "_measure_coef"]
    if row.measure_weights:   # antithetic variants: their own draws, through antithetic_plan
        need += ["antithetic_plan", "_%s_draw_numpy" % row.name[len(cls.family) + 1:]]
    if row.f_input == "hard":
        need.append("_hard_numpy")
    if row.rebar:
        need += ["_rebar_draw_numpy", "_rebar_terms_numpy"]
    return need


def test_every_kernel_family_belongs_to_a_family_unit():
    orphans = [row.name for row in _specs.FAMILIES if _owner(row) is None]
    assert not orphans, "kernel families without a class in fastscore.families: %s" % orphans
    for cls in FAMILY_CLASSES:
        for name in _kernel_rows(cls):
            assert name in _specs.BY_NAME, "%s names kernel family %r, which has no row in " \
                "_specs.FAMILIES" % (cls.__name__, name)


@pytest.mark.parametrize("row", _specs.FAMILIES, ids=lambda row: row.name)
def test_a_family_unit_has_the_twins_its_kernel_row_declares(row):
    cls = _owner(row)
    missing = [nm for nm in _pieces(cls, row) if not _own(cls, nm)]
    assert not missing, "%s (kernel family %r) lacks %s in %s" % (
        cls.__name__, row.name, ", ".join(missing), cls.__module__)


@pytest.mark.parametrize("cls", FAMILY_CLASSES, ids=lambda cls: cls.__name__)
def test_a_family_unit_is_complete(cls):
    """Its module, closed forms, second-order pieces, registry record and README row."""
    import pathlib

    assert cls.__module__.startswith("fastscore.families."), cls.__module__
    assert getattr(fs.distributions, cls.__name__) is cls and getattr(fs, cls.__name__) is cls
    assert issubclass(cls, Distribution)
    for name in ("entropy", "fisher"):
        assert _own(cls, name), "%s lacks %s (its closed form, or a refusal)" % (cls.__name__,
                                                                                  name)
    # its KL divergence and order=2 pieces, or None where it has none (the relaxed
    # families): set by the family, not left to the base's default
    assert _declared(cls, "_kl_same"), "%s lacks _kl_same, its KL divergence for fs.kl " \
        "(or _kl_same = None where it has no closed form)" % cls.__name__
    assert _declared(cls, "_SecondOrder"), "%s lacks _SecondOrder, its order=2 pieces (a " \
        "fastscore._hessian._Family; or _SecondOrder = None where it has none)" % cls.__name__
    if cls.relaxed:
        assert cls._SecondOrder is None and cls._kl_same is None, cls.__name__
    so = cls._SecondOrder
    if so is not None:
        assert isinstance(so, type) and issubclass(so, _Family), \
            "%s._SecondOrder is not a fastscore._hessian._Family" % cls.__name__
        assert so.score_hess is not _Family.score_hess, "%s._SecondOrder lacks score_hess" \
            % cls.__name__
        for flag, methods in (("explicit", ("jac", "mixed")), ("pathwise", ("jac", "jac2")),
                              ("weak", ("measure",))):
            if getattr(so, flag):
                lacking = [m for m in methods if not callable(getattr(so, m, None))]
                assert not lacking, "%s._SecondOrder is %s but lacks %s" % (
                    cls.__name__, flag, ", ".join(lacking))
    assert any(case.cls is cls for case in CASES), \
        "%s has no record in tests/cases.py" % cls.__name__
    import pinned
    assert any(case.cls is cls and case.name in pinned.PINNED_NAMES for case in CASES), \
        "%s's results are not pinned (a record of it in tests/pinned.py's PINNED_NAMES)" \
        % cls.__name__
    readme = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert "\n| `%s(" % cls.__name__ in readme, \
        "%s has no row in README.md's family table" % cls.__name__


@pytest.mark.parametrize("case", CASES, ids=str)
def test_constants_are_the_kernel_rows(case):
    """_constants() gives every constant of the plan's kernel row, and no other."""
    d = case.make()
    row = _specs.BY_NAME[d.family]
    names = {nm for nm, _ in row.const_fields()}
    assert set(d._constants()) == names, (d.family, sorted(d._constants()), sorted(names))


#: Kinds whose results tests/pinned.py does not pin yet (their entries need the pinned
#: table regenerated): the test below fails when this list and pinned.py disagree.
NOT_PINNED_YET = set()


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


# -- every kernel kind is one step file ---------------------------------------------------
# A row of _specs.KIND_BLOCKS is run by fastscore/kinds/<name>.pxi, which defines
# _<name>_<step> for every step of _specs.KIND_STEPS; the template includes it and
# generates the dispatch on FS_KIND_<NAME> from the table (CONTRIBUTING.md, "Adding an
# estimator kind").  These tests fail, naming the kind and the step, when one is missing.

_KINDS_DIR = os.path.join(os.path.dirname(_specs.__file__), "kinds")


def _kind_steps_defined(name):
    """The steps of _specs.KIND_STEPS that fastscore/kinds/<name>.pxi defines (None: no file)."""
    path = os.path.join(_KINDS_DIR, name + ".pxi")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    found = set(re.findall(r"^cdef\b[^(]*?\b_%s_(\w+)\(" % re.escape(name), text, re.M))
    return found & set(_specs.KIND_STEPS)


@pytest.mark.parametrize("name", _specs.KERNEL_KINDS)
def test_every_kernel_kind_has_its_step_file(name):
    steps = _kind_steps_defined(name)
    assert steps is not None, "kernel kind %r: no fastscore/kinds/%s.pxi" % (name, name)
    missing = [s for s in _specs.KIND_STEPS if s not in steps]
    assert not missing, "fastscore/kinds/%s.pxi lacks %s" % (
        name, ", ".join("_%s_%s" % (name, s) for s in missing))


@pytest.mark.parametrize("name", _specs.KERNEL_KINDS)
def test_every_kernel_kind_row_is_consistent(name):
    """Its row's block and slot are those of the Python kinds that run on it, and the
    compiled extension dispatches to it under its id."""
    from fastscore import _kernels
    from fastscore._kinds import KINDS, SCORE_CV

    row = _specs.KIND_BLOCKS[name]
    kid = _specs.KERNEL_KINDS.index(name)
    assert _kernels.KIND_IDS[name] == kid and _kernels.LAYOUT["kind_" + name] == kid
    assert (kid in _kernels.GRAD_KINDS) == row.grad
    slots = {"score": _kernels.SCORE_FAMILIES, "pathwise": _kernels.PATHWISE_FAMILIES,
             "measure": _kernels.MEASURE_POINTS, "rebar": _kernels.REBAR_FAMILIES}
    assert _kernels.KIND_FAMILIES[kid] is slots[row.slot]
    runs = [k for k in list(KINDS.values()) + [SCORE_CV] if (k.kernel or k.name) == name]
    assert runs and all(k.block == row.block for k in runs)
    assert any(k.slot == row.slot for k in runs)


def test_a_kernel_kind_without_its_step_file_fails(tmp_path, monkeypatch):
    """The check above names the missing step (a step file copied with one step taken out)."""
    src = os.path.join(_KINDS_DIR, "score.pxi")
    with open(src, encoding="utf-8") as fh:
        text = fh.read()
    cut = re.sub(r"^cdef inline Py_ssize_t _score_scratch\(", "cdef inline Py_ssize_t _gone(",
                 text, flags=re.M)
    assert cut != text
    (tmp_path / "score.pxi").write_text(cut, encoding="utf-8")
    monkeypatch.setitem(globals(), "_KINDS_DIR", str(tmp_path))
    with pytest.raises(AssertionError, match="_score_scratch"):
        test_every_kernel_kind_has_its_step_file("score")
    with pytest.raises(AssertionError, match="no fastscore/kinds/pathwise.pxi"):
        test_every_kernel_kind_has_its_step_file("pathwise")
