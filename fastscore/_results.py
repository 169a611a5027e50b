"""The checks of an estimate's results under ``nan_policy="raise"``.

Every result (value, gradient, standard errors, covariance) must be finite,
but for what is NaN by design (the standard errors of one sample; a
measure-valued component without a weak derivative, which is warned about).
Where one is not, the messages say what went wrong: f's values, their
variance, the kind's per-sample terms (its ``nonfinite_terms``), or a result
beyond float64 although every moment sum is finite (ResultOverflowError).
"""

import numpy as np

from . import _moments
from ._errors import RESCALE_HINT, ResultOverflowError


def batch_index(plan, b):
    """The batch index (a tuple) of flat batch element b."""
    shape = tuple(plan.batch_shape)
    return tuple(int(i) for i in np.unravel_index(b, shape)) if shape else ()


def component_names(plan):
    """A name for each gradient component (the parameter's, indexed for vectors)."""
    out = []
    for nm, shape, packing in plan.params.params:
        k = plan.params._n_components(shape, packing)
        out.extend([nm] if k == 1 else ["%s[%d]" % (nm, i) for i in range(k)])
    return out


def nan_by_design(kind, plan, P):
    """(B, P) bool or None: the gradient components that are NaN by design (the
    measure-valued estimator's parameters without a weak derivative: Gamma's
    concentration; the facade warns about them instead)."""
    coef = kind.coef(plan) if plan.batch_size else None
    if coef is None or np.shape(coef)[-1] != P:
        return None
    return np.isnan(coef)


def bad_rows(kind, plan, results, one_sample=False):
    """(B,) bool: the rows with a result that is not finite (a NaN or an inf value,
    gradient or standard error), but for what is NaN by design (every standard
    error from one sample, a component without a weak derivative)."""
    value, value_stderr, g, se = results
    allowed = nan_by_design(kind, plan, g.shape[1])
    gbad = ~np.isfinite(g)
    sebad = ~np.isfinite(se)
    if allowed is not None:
        gbad &= ~(allowed & np.isnan(g))
        sebad &= ~(allowed & np.isnan(se))
    bad = ~np.isfinite(value) | gbad.any(axis=1)
    if not one_sample:
        bad |= ~np.isfinite(value_stderr) | sebad.any(axis=1)
    return bad


def _what_overflowed(kind, plan, results, b, one_sample):
    """The name of the first result of row b that is not finite."""
    value, value_stderr, g, se = results
    if not np.isfinite(value[b]):
        return "the value E[f]"
    if not one_sample and not np.isfinite(value_stderr[b]):
        return "the value's standard error"
    allowed = nan_by_design(kind, plan, g.shape[1])
    names = component_names(plan)
    for what, arr in (("the gradient", g), ("the standard error of the gradient", se)):
        if one_sample and arr is se:
            break
        for j in range(arr.shape[1]):
            if not np.isfinite(arr[b, j]) and not (allowed is not None and allowed[b, j]
                                                    and np.isnan(arr[b, j])):
                return "%s with respect to %r" % (what, names[j] if j < len(names) else j)
    return "a result"


def check(kind, plan, results, row_sums, nan_policy, pf=None, one_sample=False):
    """Raise, under nan_policy="raise", for a row with a result that is not finite.

    ``results`` is (value, value_stderr, grad, stderr) per batch element;
    ``row_sums(b)`` gives element b's moment sums, to say what went wrong.
    """
    bad = bad_rows(kind, plan, results, one_sample)
    if nan_policy != "raise" or not bad.any():
        return
    b = int(np.argmax(bad))
    where = "batch element %s" % (batch_index(plan, b),)
    row = row_sums(b)
    if kind.folds:  # cv's rows per fold: their merge
        row = _moments.fold_total(np.asarray(row)[None])[0]
    hint = "; pass nan_policy='propagate' to get NaN results instead"
    if np.isfinite(row).all():
        # every moment sum is finite: a result itself is beyond float64
        what = _what_overflowed(kind, plan, results, b, one_sample)
        raise ResultOverflowError(
            "%s overflows float64 for %s (its true value is beyond 1.8e308, as f is too "
            "large: |f| above about 1e154 squares past it); %s%s"
            % (what, where, RESCALE_HINT, hint.replace("NaN", "inf or NaN")))
    if not np.isfinite(row[[_moments.SHIFT, _moments.SUM_D]]).all():
        extra = ""
        if pf is not None and pf.kind == "builtin" and pf.obj.kind == "table":
            extra = " (a sample outside the table? fastscore.fn.table is NaN there)"
        msg = ("f returned a non-finite value (nan or inf), or f's values differ by more "
               "than float64 holds, for %s%s" % (where, extra))
    elif not np.isfinite(row[_moments.SUM_DD]):
        msg = ("the variance of f overflows double precision for %s (the sum of "
               "(f - f_0)^2 passes 1.8e308: |f| above about 1e154); %s"
               % (where, RESCALE_HINT))
    else:
        msg = kind.nonfinite_terms(where)
    raise ValueError(msg + hint)


def check_cov(kind, plan, c, nan_policy):
    """Raise, under nan_policy="raise", for a covariance entry that is not finite, but
    for the rows and columns of a component that is NaN by design."""
    if nan_policy != "raise":
        return
    ok = np.isfinite(c)
    allowed = nan_by_design(kind, plan, c.shape[1])
    if allowed is not None:
        ok |= np.isnan(c) & (allowed[:, :, None] | allowed[:, None, :])
    if not ok.all():
        b, j, k = (int(i) for i in np.argwhere(~ok)[0])
        names = component_names(plan)
        raise ResultOverflowError(
            "the covariance of the gradient components %r and %r overflows float64 "
            "for batch element %s (est.cov holds squared standard errors: it passes "
            "1.8e308 where a standard error passes 1.3e154); %s, or pass "
            "nan_policy='propagate' to get inf or NaN instead"
            % (names[j], names[k], batch_index(plan, b), RESCALE_HINT))
