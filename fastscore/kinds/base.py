"""The base of the estimator kinds, and the finishes' shared helpers."""

import numpy as np

from .. import _finish, _moments, _specs
from .._errors import RESCALE_HINT


class EstimatorKind:
    """Base of the estimator kinds.

    Attributes
    ----------
    name : str
        What ``fs.estimate(..., estimator=name)`` calls it.
    slot : str
        The family capability it needs (fastscore._specs.Family.slots).
    needs : frozenset of str
        What it needs beside the family: "f" (f values), "grad_f" (f'),
        "coupled" (coupled draws from p+ and p-), "relaxed" (a relaxed family).
    methods : tuple of str
        The variants its ``method=`` chooses between.
    block : tuple of str
        The block of the moment-sum layout its terms are folded into
        (fastscore._specs.SCORE_BLOCK or MEAN_BLOCK).
    """

    name = None
    slot = None
    needs = frozenset()
    methods = ("plain",)
    block = _specs.MEAN_BLOCK
    #: The kernel kind that runs it (fastscore._specs.KERNEL_KINDS; default its name).
    kernel = None
    #: The fs.estimate options it takes (beside method): name -> fastscore._options.Option,
    #: with this kind's default.
    options = {}
    #: What its per-sample terms are, for the message of a non-finite result.
    terms_description = "its terms"
    #: True when its kernel evaluates f at coupled points (the measure-valued kernel
    #: kind): an Independent's f is then called point by point (fastscore._wrapped).
    points = False
    #: True when cov=True is served (fastscore._cov) ...
    covariance = False
    #: ... and on a wrapped plan (Independent, Joint, transformed) too.
    covariance_wrapped = False
    #: True when the kernels run an Independent's joint f themselves for it (_grouped.pxi).
    grouped_kernel = False
    #: True when a one-hot counted family's counts go to its estimates in one fused
    #: pass (_finish.onehot_finish).
    fused_onehot = False
    #: What a family without this kind's slot can use instead (error messages).
    instead = ""

    settings = {}
    #: Rows per batch element kept per fold (0: one row; the score function's
    #: cross-fitted cv keeps _specs.CV_FOLDS).
    folds = 0

    def for_method(self, method):
        """The kind that runs ``method`` (itself, except for the score function's cv)."""
        return self

    @property
    def kernel_id(self):
        """The kind's id in the kernels (fastscore._specs.KERNEL_KINDS)."""
        return _specs.KERNEL_KINDS.index(self.kernel or self.name)

    def configured(self, **options):
        """A copy of this kind with the call's options set (defaults where not given)."""
        import copy

        out = copy.copy(self)
        out.settings = dict({nm: opt.default for nm, opt in self.options.items()}, **options)
        return out

    def check_options(self, **given):
        """The options of a call (fs.estimate's temperature, straight_through, eta,
        num_draws) this kind takes, validated, its defaults where given as None; an
        option it does not take must be left unset (ValueError naming who takes it)."""
        from .._kinds import _ALL_OPTIONS, KINDS

        out = {}
        for name, value in given.items():
            opt = self.options.get(name)
            if opt is None:
                if not _ALL_OPTIONS[name].is_unset(value):
                    users = [k for k, kd in KINDS.items() if name in kd.options]
                    raise ValueError("%s is only used with estimator=%s (got estimator=%r)"
                                     % (name, " or ".join(repr(u) for u in users), self.name))
                continue
            out[name] = opt.check(self.name, opt.default if value is None else value,
                                  opt.default)
        return out

    def configure(self, **given):
        """This kind configured with a call's options (:meth:`check_options`)."""
        return self.configured(**self.check_options(**given))

    def check_grad_f(self, pf, grad_f, named, plan):
        """Attach f' (``grad_f``, or a built-in's own) where the kind needs it; refuse a
        ``grad_f`` it would not use.  ``named``: the estimator as the call named it."""
        from .._callables import prepare_grad

        if "grad_f" in self.needs:
            prepare_grad(pf, grad_f, named, plan)
        elif grad_f is not None:
            raise ValueError("grad_f is only used with estimator='pathwise', 'mixed', "
                             "'concrete' or 'rebar' (got estimator=%r)" % self.name)

    def accept(self, plan, pf, grad_f, named):
        """Refuse a family without this kind's slot; attach f' where the kind needs it
        (:meth:`check_family`, :meth:`check_grad_f`)."""
        self.check_family(plan)
        self.check_grad_f(pf, grad_f, named, plan)

    def for_run(self, dist, plan, n, method, baseline):
        """(kind, plan, baseline) of a run of n samples per batch element: the kind sized
        for them (:meth:`sized`), ``method`` and ``baseline`` checked
        (:meth:`check_method`: the baseline as (batch_size,) float64 or None), and the
        kind that runs ``method`` (:meth:`for_method`)."""
        kind, plan = self.sized(dist, plan, plan.batch_size * n)
        b = kind.check_method(method, baseline, plan)
        return kind.for_method(method), plan, b

    def sized(self, dist, plan, total):
        """(kind, plan) for ``total`` samples over the batch (REBAR fixes "auto" in
        advance for few samples)."""
        return self, plan

    def warn(self, plan, stacklevel):
        """Warn about what the estimate of ``plan`` will lack or cost (RuntimeWarning)."""

    def evaluations_per_sample(self, plan):
        """Evaluations of f per sample of ``plan`` that the kind warns about (1: none)."""
        return 1

    def reference_terms(self, plan, pf, n, key, chunk_start):
        """(f values (m, B), terms (m, B, width)) of samples [chunk_start * CHUNK_SIZE, n)
        in NumPy: the reference backend's step (fastscore.reference.run)."""
        from .. import reference

        x3 = reference.sample(plan, n, key, chunk_start, check=False)
        seen = plan.f_input(x3) if plan.f_input is not None else x3
        reference._check_finite(seen)   # what f sees, as the kernels check it
        fx = pf.values(seen, plan, "reference")
        return fx, self.terms(plan, pf, x3, "reference", seen)

    def cov_terms(self, plan, pf, x3, seen, fx, backend, method, baseline, fbar, bases, n,
                  first):
        """Per-sample terms (m, B, P) as the finish weighs them (fastscore._cov)."""
        return self.terms(plan, pf, x3, backend, seen)

    def pairwise_cov(self, method, n):
        """True when the terms are correlated in pairs (rloo): the unbiased covariance."""
        return False

    def nonfinite_terms(self, where):
        """The message for a row whose terms' sums are not finite."""
        return ("the %s estimator's per-sample terms (%s) are not finite or overflow double "
                "precision for %s (if they are large, %s)"
                % (self.name, self.terms_description, where, RESCALE_HINT))

    def result_info(self, plan, empty=False):
        """Estimate.info: the settings used (REBAR adds the eta and temperature used)."""
        return dict(self.settings)

    def plan_for(self, dist):
        """The plan this kind runs on: the distribution's own, or its relaxation's, ..."""
        return dist.plan()

    def plans(self, plan):
        """The plans one estimate runs, on the same streams (one for most kinds)."""
        return [plan]

    def finish_states(self, impl, plans, pf, states, method, baseline, n_threads):
        """Estimates and row_sums from the states of :meth:`plans` (the backend's finish)."""
        return impl.finish_state(self, plans[0], pf, states[0], method, baseline, n_threads)

    def check_family(self, plan):
        """Raise NotImplementedError when the family lacks this kind's slot."""
        if not self.supports(plan):
            raise NotImplementedError("estimator=%r: %s has no %s slot%s"
                                      % (self.name, plan.name, self.slot, self.instead))

    def supports(self, plan):
        return self.slot in plan.slots

    def counted(self, plan):
        """True when this kind's estimate comes from counts of a finite support."""
        return False

    def kernel_family(self, plan, inline):
        """The kernel family that runs this kind (LogNormal's inline f keeps log x)."""
        if inline and self.slot in plan.inline_family.slots:
            return plan.inline_family
        return plan.family

    def check_method(self, method, baseline, plan):
        """Validate method and baseline; the baseline as (batch_size,) float64 or None."""
        if method not in self.methods:
            if len(self.methods) == 1:
                raise ValueError("method=%r is a choice of the score-function estimator; "
                                 "estimator=%r takes method=%r only"
                                 % (method, self.name, self.methods[0]))
            raise ValueError("method must be one of %s, got %r"
                             % (", ".join(repr(m) for m in self.methods), method))
        if baseline is not None:
            raise ValueError("baseline is only used with method='baseline' (got method=%r)"
                             % method)
        return None

    def coef(self, plan):
        """Per-component constants the finish multiplies the means by (None: 1)."""
        return None

    def waves_on(self, plan):
        """True when this kind runs on ``plan`` (a family's) in NumPy waves, not in the
        kernels (fastscore._wrapped.Backend)."""
        return False

    def wave_factor(self, plan):
        """How many times a sample's numbers (event or score components) a wave holds
        per sample at once: the evaluation points of the kinds that have several."""
        return 1

    def wave_terms(self, plan, pf, x, backend, aux=None):
        """(f, terms) of samples ``x`` in NumPy: the waves of a joint distribution's run
        (fastscore._wrapped), in the plan's own layout; ``aux(draw)`` gives auxiliary
        draws per chunk (fastscore._wrapped.AuxDraws)."""
        raise NotImplementedError("estimator=%r does not run on %s" % (self.name, plan.name))

    def finish(self, plan, sums, method, baseline=None):
        """(value, value_stderr, grad, stderr) from mean-block sums, in NumPy.

        gradient_j = c_j mean(t_j), stderr |c_j| sd(t_j) / sqrt(n): the twin of
        _finish.finish_mean, operation for operation.
        """
        S = np.asarray(sums, dtype=np.float64)
        coef = self.coef(plan)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            n, inv_n, inv_n1, md, finite, value, value_se = value_head(S)
            blk = lambda nm: _moments.blocks(S, nm, _specs.MEAN_BLOCK)  # noqa: E731
            ts, st, stt = blk("term_shift"), blk("sum_t"), blk("sum_tt")
            mt = st * inv_n[:, None]
            g = ts + mt
            se = _stderr(stt * inv_n[:, None], mt, inv_n1[:, None])
            over = finite[:, None] & ~np.isfinite(g)
            if coef is not None:
                g = coef * g
                se = np.abs(coef) * se
            se = np.where(finite[:, None], se, np.nan)
            if over.any():
                # the mean term overflows on finite sums: again on the sums scaled by 2^-kt
                r, j = np.nonzero(over)
                kt = _down(np.maximum(np.maximum(_exp_of(ts[r, j]), _exp_of(st[r, j])),
                                      _half_exp_of(stt[r, j])))
                cj = coef[r, j] if coef is not None else 1.0
                g[r, j] = np.ldexp(cj * (np.ldexp(ts[r, j], -kt)
                                         + np.ldexp(st[r, j], -kt) * inv_n[r]), kt)
        return value, value_se, g, se

    def finish_compiled(self, plan, sums, method, baseline=None, n_threads=1):
        """The compiled finish of the same sums (bit-identical to :meth:`finish`)."""
        return _finish.finish_mean(sums, self.coef(plan), n_threads)


def value_head(S):
    """(n, 1 / n, 1 / (n - 1), mean of d, finite rows, value, value_stderr) of moment
    sums S (batch, width): the head every finish shares, operation for operation
    the compiled finish's (call it under np.errstate(divide/invalid/over="ignore"))."""
    n = S[:, _moments.N]
    inv_n = 1.0 / n
    inv_n1 = 1.0 / (n - 1.0)
    md = S[:, _moments.SUM_D] * inv_n
    finite = np.isfinite(S).all(axis=1)
    value = S[:, _moments.SHIFT] + md
    value_se = np.where(finite, _stderr(S[:, _moments.SUM_DD] * inv_n, md, inv_n1), np.nan)
    return n, inv_n, inv_n1, md, finite, value, value_se


def _stderr_var(v):
    """sqrt of a variance estimate; 0 where it is negative, NaN for NaN."""
    with np.errstate(invalid="ignore"):
        return np.where(v > 0.0, np.sqrt(np.where(v > 0.0, v, 0.0)),
                        np.where(v == v, 0.0, np.nan))


def _stderr(ez2, g, inv_n1):
    """sqrt of the variance of the mean; 0 for a negative round-off, NaN for NaN."""
    v = (ez2 - g * g) * inv_n1
    with np.errstate(invalid="ignore"):
        return np.where(v > 0.0, np.sqrt(np.where(v > 0.0, v, 0.0)),
                        np.where(v == v, 0.0, np.nan))


def _exp_of(x):
    """e with |x| = m 2^e, 1/2 <= m < 1 (0 for 0), as int64 (_exp_of in _finish.pyx)."""
    return np.frexp(np.asarray(x, dtype=np.float64))[1].astype(np.int64)


def _half_exp_of(x):
    """An e with sqrt(|x|) < 2^e (_half_exp_of in _finish.pyx)."""
    return (_exp_of(x) + 1) >> 1


def _down(e):
    """The k taking a magnitude below 2^e to below 2^SCALE_TARGET (0: none)."""
    e = np.asarray(e, dtype=np.int64)
    return np.where(e > _specs.SCALE_TARGET, e - _specs.SCALE_TARGET, 0)
