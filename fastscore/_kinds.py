"""Estimator kinds: what each needs, its per-sample terms and its finish.

An estimator kind declares the family capability (slot) it needs and what
else it needs ("f": f values only, "grad_f": f', "coupled": coupled draws,
"relaxed": a relaxed family).  It produces per-sample terms, which the
generic reducer (_reduce.h, fastscore._moments) folds into shifted moment
sums.  From those sums its finish makes value, gradient and standard
errors.  The streams, chunks, waves, threads and chunk-ordered merges are
common to all kinds.

The kinds, after Mohamed, Rosca, Figurnov and Mnih, "Monte Carlo
Gradient Estimation in Machine Learning" (JMLR 2020):

score      E[f(x) d/dtheta log p(x)], four baselines (the "method")
pathwise   E[f'(x) dx/dtheta], x = g(eps; theta) or implicitly reparameterised
measure    c_theta (E_{p+}[f] - E_{p-}[f]), the weak derivative of p

and for discrete variables concrete, rebar, arm, disarm and indecater, and
vimco for multi-sample objectives.  A kind with ``waves = True`` (indecater,
vimco) is not a kernel loop: it computes its
terms in NumPy on the kernels' samples (``wave_terms``), as every kind does
on a Joint.
"""

import numpy as np
from scipy import special

from . import _finish, _moments, _specs
from ._errors import RESCALE_HINT
from ._layout import as_array
from ._options import ETA, NUM_DRAWS, STRAIGHT_THROUGH, TEMPERATURE


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
        from ._callables import prepare_grad

        if "grad_f" in self.needs:
            prepare_grad(pf, grad_f, named, plan)
        elif grad_f is not None:
            raise ValueError("grad_f is only used with estimator='pathwise', 'mixed', "
                             "'concrete' or 'rebar' (got estimator=%r)" % self.name)

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
        from . import reference

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
            n = S[:, _moments.N]
            inv_n = 1.0 / n
            inv_n1 = 1.0 / (n - 1.0)
            md = S[:, _moments.SUM_D] * inv_n
            finite = np.isfinite(S).all(axis=1)
            value = S[:, _moments.SHIFT] + md
            value_se = np.where(finite, _stderr(S[:, _moments.SUM_DD] * inv_n, md, inv_n1),
                                np.nan)
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


def _score_comp(method, shift, base, md, n, inv_n, inv_n1, Ss, Sss, Sds, Sdss, Sddss):
    """(gradient, stderr, overflowed) of score components (_score_comp in _finish.pyx)."""
    if method == "rloo":
        # rloo's per-sample terms are n / (n - 1) (d - md) s; mean of their squares:
        scale2 = n * inv_n1 * n * inv_n1 * inv_n
        g = (Sds - md * Ss) * inv_n1
        ez2 = scale2 * (Sddss - 2.0 * md * Sdss + md * md * Sss)
        # rloo's unbiased variance: ((n - 1) ez2 - (n - 2) g^2) / (n^2 - 2n + 2)
        rl_den = (n - 2.0) * n + 2.0
        rl_a = (n - 1.0) / rl_den
        rl_b = (n - 2.0) / rl_den
        se = _stderr_var(rl_a * ez2 - rl_b * (g * g))
    else:
        if method == "plain":
            c = shift
        elif method == "baseline":
            c = shift - base
        else:
            c = np.where(Sss > 0.0, -Sdss / Sss, 0.0)
        g = (Sds + c * Ss) * inv_n
        ez2 = (Sddss + 2.0 * c * Sdss + c * c * Sss) * inv_n
        se = _stderr(ez2, g, inv_n1)
    return g, se, ~(np.isfinite(ez2) & np.isfinite(g * g))


def _score_kf(shift, base, sdd):
    """f's scale exponent of score rows (_score_kf in _finish.pyx)."""
    return _down(np.maximum(np.maximum(_exp_of(shift), _exp_of(base)), _half_exp_of(sdd)))


class ScoreFunction(EstimatorKind):
    """The score-function (REINFORCE, likelihood-ratio) estimator.

    Its per-sample terms are the score components s_j(x) = d/dtheta_j log p(x).
    Per batch element and component, with ``b`` a baseline::

        plain     g = mean(f s)
        baseline  g = mean((f - b) s)
        cv        g = mean((f - b_j) s_j),  b_j = sum f s_j^2 / sum s_j^2
        rloo      g = mean((f_i - mean_{k != i} f_k) s_i) = sum (f - fbar) s / (n - 1)

    Every method is unbiased at every n >= 2, and so is every standard
    error's square (its variance estimate):

    * plain, baseline: the terms are independent; stderr^2 is their sample
      variance over n.
    * rloo: the terms t_i = (f_i - mean_{k != i} f_k) s_i are not
      independent (E[t_i t_k] = theta^2 (1 + 1/(n - 1)^2) for i != k, theta
      the gradient, since E[s] = 0), so stderr^2 = ((n - 1) mean(t^2) -
      (n - 2) g^2) / (n^2 - 2n + 2), unbiased for Var(g) at every n >= 2
      (the plain sample variance misses the covariance: 23x too small for a
      Bernoulli at n = 2, 1.3x at n = 32).  A negative estimate (possible,
      not seen in bench/calibration.py's runs) is clipped at 0.
    * cv: cross-fitted (ScoreCV): the samples are split into
      _specs.CV_FOLDS = 7 folds by their index in the stream (chunk *
      CHUNK_SIZE + i) mod 7, and fold k's baseline b_k = sum f s_j^2 / sum
      s_j^2 is taken over folds k + 1, k + 2, k + 3 (mod 7) only, so it never
      uses the samples it multiplies: g = mean((f - b_fold) s).  As no two
      folds use each other, E[t_i t_l] = theta^2 for every pair, and the plain
      sample variance of the terms over n is unbiased for Var(g).  With n < 7
      the n one-sample folds play the 7 (k + 1, ..., k + (n - 1) // 2 mod n);
      at n = 2 (where two folds would use each other) cv is rloo.  Where the
      baseline folds' sum of s_j^2 is 0, their mean f is the baseline.
      Counted families (Bernoulli, Categorical) keep their counts per fold.

    The standard errors assume independent samples and finite variances;
    the 95% intervals est +- 1.96 stderr are normal approximations (good
    for n in the hundreds for light tails, poor at n = 2..16).
    """

    name = "score"
    slot = "score"
    needs = frozenset({"f"})
    methods = ("plain", "baseline", "rloo", "cv")
    block = _specs.SCORE_BLOCK
    covariance = covariance_wrapped = grouped_kernel = fused_onehot = True

    def nonfinite_terms(self, where):
        return ("the score, or f times the score, is not finite or overflows double "
                "precision for %s: the parameters are too extreme for float64 (e.g. a "
                "scale below 1e-150, or samples that underflow to the edge of the support), "
                "or f is too large (then %s)" % (where, RESCALE_HINT))

    def cov_terms(self, plan, pf, x3, seen, fx, backend, method, baseline, fbar, bases, n,
                  first):
        """The method's terms: f s, (f - b) s, rloo's n / (n - 1) (f - fbar) s, cv's
        (f - b_fold) s with the estimate's fold baselines ``bases`` (B, CV_FOLDS, P)."""
        s = plan.score(x3)                                                      # (m, B, P)
        if method == "plain":
            return fx[:, :, None] * s
        if method == "baseline":
            return (fx - np.asarray(baseline, dtype=np.float64))[:, :, None] * s
        if method == "rloo" or (method == "cv" and n < 3):
            return (n / (n - 1.0)) * (fx - fbar)[:, :, None] * s
        from ._wrapped import _rows_of

        fold = (first + np.arange(_rows_of(x3))) % _specs.CV_FOLDS                # cv
        b = bases[:, fold, :].transpose(1, 0, 2)                                # (m, B, P)
        return (fx[:, :, None] - b) * s

    def pairwise_cov(self, method, n):
        return method == "rloo" or (method == "cv" and n < 3)

    def plan_for(self, dist):
        """The distribution's score plan (log-space kernels for small concentrations)."""
        return dist.score_plan()

    def supports(self, plan):
        return "score" in plan.slots or plan.counted

    def counted(self, plan):
        return plan.counted

    def check_method(self, method, baseline, plan):
        if method != "baseline":
            return super().check_method(method, baseline, plan)
        if baseline is None:
            raise ValueError("method='baseline' needs baseline=: a scalar or an array of the "
                             "batch shape %s" % (plan.batch_shape,))
        b = as_array(baseline, "baseline")
        if b.dtype.kind not in "biuf":
            raise TypeError("baseline must be real numbers, got dtype %s" % b.dtype)
        b = b.astype(np.float64)
        if b.shape not in ((), tuple(plan.batch_shape)):
            raise ValueError("baseline must be a scalar or have the batch shape %s; got shape %s"
                             % (tuple(plan.batch_shape), b.shape))
        if not np.all(np.isfinite(b)):
            raise ValueError("baseline must be finite")
        return np.broadcast_to(b, plan.batch_shape).reshape(-1)

    def terms(self, plan, pf, x3, backend, seen=None):
        """Per-sample terms (m, batch_size, P): the score components."""
        return plan.score(x3)

    def wave_terms(self, plan, pf, x, backend, aux=None):
        return pf.values(x, plan, backend), plan.score(x)

    def counted_sums(self, plan, fvals, counts):
        """Exact sums from support counts: f and the score once per support value."""
        sup = plan.support
        x3 = np.broadcast_to(sup[:, None, None], (sup.size, plan.batch_size, plan.E)).copy()
        scores = plan.score(x3)                                          # (V, B, P)
        return _moments.sums_from_counts(counts, fvals, scores.transpose(1, 0, 2))

    def finish(self, plan, sums, method, baseline=None):
        """(value, value_stderr, grad, stderr) from moment sums, in NumPy.

        The twin of the compiled finish (_finish.pyx), operation for
        operation: on the same sums the two give the same bits.  A row whose
        sums are not all finite gets NaN standard errors (its value_stderr
        is NaN exactly then).
        """
        S = np.asarray(sums, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            n = S[:, _moments.N]
            shift = S[:, _moments.SHIFT]
            inv_n = 1.0 / n
            inv_n1 = 1.0 / (n - 1.0)
            md = S[:, _moments.SUM_D] * inv_n
            finite = np.isfinite(S).all(axis=1)
            value = shift + md
            value_se = np.where(finite, _stderr(S[:, _moments.SUM_DD] * inv_n, md, inv_n1),
                                np.nan)
            Ss, Sss, Sds, Sdss, Sddss = (_moments.blocks(S, nm) for nm in
                                         ("sum_s", "sum_ss", "sum_ds", "sum_dss", "sum_ddss"))
            base = (np.broadcast_to(np.asarray(baseline, dtype=np.float64), n.shape)
                    if method == "baseline" else np.zeros_like(n))
            col = lambda v: v[:, None]  # noqa: E731
            g, se, over = _score_comp(method, col(shift), col(base), col(md), col(n),
                                      col(inv_n), col(inv_n1), Ss, Sss, Sds, Sdss, Sddss)
            se = np.where(finite[:, None], se, np.nan)
            over &= finite[:, None]
            if over.any():
                # finite sums, an overflowing finish: again on the sums scaled by 2^-kf
                # (f) and 2^-ks (the component's score), the results scaled back
                r, j = np.nonzero(over)
                kf = _score_kf(shift[r], base[r], S[r, _moments.SUM_DD])
                ks = _down(_half_exp_of(Sss[r, j]))
                g2, se2, _ = _score_comp(
                    method, np.ldexp(shift[r], -kf), np.ldexp(base[r], -kf),
                    np.ldexp(md[r], -kf), n[r], inv_n[r], inv_n1[r], np.ldexp(Ss[r, j], -ks),
                    np.ldexp(Sss[r, j], -2 * ks), np.ldexp(Sds[r, j], -(kf + ks)),
                    np.ldexp(Sdss[r, j], -(kf + 2 * ks)),
                    np.ldexp(Sddss[r, j], -(2 * kf + 2 * ks)))
                g[r, j] = np.ldexp(g2, kf + ks)
                se[r, j] = np.ldexp(se2, kf + ks)
        return value, value_se, g, se

    def finish_compiled(self, plan, sums, method, baseline=None, n_threads=1):
        return _finish.finish_sums(sums, method, baseline, n_threads)

    def for_method(self, method):
        return SCORE_CV.configured(**self.settings) if method == "cv" else self


class ScoreCV(ScoreFunction):
    """The score function's cross-fitted cv (see :class:`ScoreFunction`).

    Its rows hold _specs.CV_FOLDS score rows side by side, one per fold (a
    sample's fold: its index in the batch element's stream mod CV_FOLDS),
    each merged on its own across chunks, threads and Dask tasks; counted
    families count per fold.  The finish is fastscore._finish.finish_folds,
    whose NumPy twin is :meth:`finish`.
    """

    kernel = "score_folds"
    folds = _specs.CV_FOLDS

    def for_method(self, method):
        return self

    def counted_sums(self, plan, fvals, counts):
        """Each fold's exact sums from its counts (an empty fold's are zeros)."""
        V = plan.support.size
        c = np.asarray(counts)
        out = []
        for k in range(self.folds):
            ck = np.ascontiguousarray(c[:, k * V:(k + 1) * V])
            sk = ScoreFunction.counted_sums(self, plan, fvals, ck)
            sk[ck.sum(axis=1) == 0] = 0.0
            out.append(sk)
        return np.concatenate(out, axis=1)

    def onehot_fold_sums(self, counts, fvals, a, b, n_threads=1):
        """The fold rows of a one-hot family (Categorical) from its counts per fold, by the
        compiled closed forms (_finish.onehot_count_sums; an empty fold's are zeros)."""
        V = fvals.shape[1]
        c = np.asarray(counts)
        out = []
        for k in range(self.folds):
            ck = np.ascontiguousarray(c[:, k * V:(k + 1) * V])
            sk = _finish.onehot_count_sums(ck, fvals, a, b, n_threads)
            sk[ck.sum(axis=1) == 0] = 0.0
            out.append(sk)
        return np.concatenate(out, axis=1)

    def finish(self, plan, sums, method="cv", baseline=None):
        """NumPy twin of _finish.finish_folds, operation for operation."""
        S = np.asarray(sums, dtype=np.float64)
        K = self.folds
        W = S.shape[1] // K
        B = S.shape[0]
        P = (W - _moments.HEAD_WIDTH) // _moments.SCORE_WIDTH
        T = _moments.fold_total(S)
        value, value_se, g, se = ScoreFunction.finish(self, plan, T, "rloo")
        n = T[:, _moments.N]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            inv_n = 1.0 / n
            inv_n1 = 1.0 / (n - 1.0)
            finite = np.isfinite(T).all(axis=1) & np.isfinite(S).all(axis=1)
            many = n >= 3.0
            value_se = np.where(many & ~finite, np.nan, value_se)
            sub = [S[:, k * W:(k + 1) * W] for k in range(K)]
            blk = [[_moments.blocks(r, nm) for nm in SCORE_BLOCK_NAMES] for r in sub]
            for ke in np.unique(np.where(many, np.minimum(n, K), 0)):
                if ke == 0 or not np.isfinite(ke):
                    continue
                rows = many & (np.minimum(n, K) == ke)
                ke = int(ke)
                reach = (ke - 1) // 2
                gn = np.zeros((B, P))
                en = np.zeros((B, P))
                for k in range(ke):
                    shift_k = sub[k][:, _moments.SHIFT][:, None]
                    Ss, Sss, Sds, Sdss, Sddss = blk[k]
                    num = np.zeros((B, P))
                    den = np.zeros((B, P))
                    cnt = np.zeros((B, 1))
                    sdm = np.zeros((B, P))
                    for r in range(1, reach + 1):
                        jj = (k + r) % ke
                        Sj = sub[jj]
                        bss, bdss = blk[jj][1], blk[jj][3]
                        dsh = Sj[:, _moments.SHIFT][:, None] - shift_k
                        nj = Sj[:, _moments.N][:, None]
                        num = num + (dsh * bss + bdss)
                        den = den + bss
                        cnt = cnt + nj
                        sdm = sdm + (dsh * nj + Sj[:, _moments.SUM_D][:, None])
                    c = np.where(den > 0.0, -num / den, -sdm / cnt)
                    gn = gn + (Sds + c * Ss)
                    en = en + ((Sddss + 2.0 * c * Sdss) + c * c * Sss)
                gj = gn * inv_n[:, None]
                ez2 = en * inv_n[:, None]
                sej = np.where(finite[:, None], _stderr(ez2, gj, inv_n1[:, None]), np.nan)
                g = np.where(rows[:, None], gj, g)
                se = np.where(rows[:, None], sej, se)
                over = (rows & finite)[:, None] & ~(np.isfinite(ez2) & np.isfinite(gj * gj))
                for b, j in zip(*np.nonzero(over)):
                    # finite sums, an overflowing finish: again on the sums scaled
                    kf = max(int(_score_kf(sub[k][b, _moments.SHIFT], 0.0,
                                           sub[k][b, _moments.SUM_DD])) for k in range(K))
                    ks = max(int(_down(_half_exp_of(blk[k][1][b, j]))) for k in range(K))
                    g[b, j], se[b, j] = _folds_comp_scaled(S[b], W, j, ke, kf, ks, inv_n[b],
                                                           inv_n1[b])
        return value, value_se, g, se

    def finish_compiled(self, plan, sums, method="cv", baseline=None, n_threads=1):
        return _finish.finish_folds(sums, n_threads)


SCORE_BLOCK_NAMES = ("sum_s", "sum_ss", "sum_ds", "sum_dss", "sum_ddss")


def _folds_comp_scaled(row, W, j, ke, kf, ks, inv_n, inv_n1):
    """Component j of the cross-fitted finish of one row of fold rows, on the sums
    scaled by 2^-kf (f) and 2^-ks (the score), its results scaled back: the twin of
    _folds_comp_scaled in _finish.pyx, operation for operation."""
    f = np.float64
    ld = lambda x, k: np.ldexp(f(x), k)  # noqa: E731
    at = lambda k, nm: row[k * W + _moments.HEAD_WIDTH + _moments.SCORE_WIDTH * j  # noqa: E731
                           + SCORE_BLOCK_NAMES.index(nm)]
    reach = (ke - 1) // 2
    gs = f(0.0)
    es = f(0.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        for k in range(ke):
            shift_k = ld(row[k * W + _moments.SHIFT], -kf)
            num = den = cnt = sdm = f(0.0)
            jj = k
            for _ in range(reach):
                jj += 1
                if jj == ke:
                    jj = 0
                dsh = ld(row[jj * W + _moments.SHIFT], -kf) - shift_k
                nj = f(row[jj * W + _moments.N])
                sdj = ld(row[jj * W + _moments.SUM_D], -kf)
                bss = ld(at(jj, "sum_ss"), -2 * ks)
                num = num + (dsh * bss + ld(at(jj, "sum_dss"), -(kf + 2 * ks)))
                den = den + bss
                cnt = cnt + nj
                sdm = sdm + (dsh * nj + sdj)
            bss = ld(at(k, "sum_ss"), -2 * ks)
            c = -num / den if den > 0.0 else -sdm / cnt
            gs = gs + (ld(at(k, "sum_ds"), -(kf + ks)) + c * ld(at(k, "sum_s"), -ks))
            es = es + ((ld(at(k, "sum_ddss"), -(2 * kf + 2 * ks))
                        + f(2.0) * c * ld(at(k, "sum_dss"), -(kf + 2 * ks))) + c * c * bss)
        gj = gs * inv_n
        m2 = es * inv_n
        return np.ldexp(gj, kf + ks), np.ldexp(_stderr(m2, gj, inv_n1), kf + ks)


class Pathwise(EstimatorKind):
    """The pathwise (reparameterisation) estimator: the mean of f'(x) . dx/dtheta_j.

    x = g(eps; theta) is differentiated in closed form (Normal, LogNormal,
    Exponential, MultivariateNormal) or implicitly, dx/dtheta = -(dF/dtheta)(x)
    / p(x) (Gamma, Beta, Chi2, VonMises; Dirichlet by stick-breaking into
    Betas), on the very samples the score function draws.  Unbiased when f is
    differentiable almost everywhere and continuous (a kink is fine; a jump
    is not: its pathwise gradient misses the jump).
    """

    name = "pathwise"
    slot = "pathwise"
    needs = frozenset({"f", "grad_f"})
    terms_description = "f'(x) dx/dtheta"
    covariance = covariance_wrapped = grouped_kernel = True
    instead = ("; a discrete family has no reparameterisation: use estimator='measure' or "
               "'score', or a relaxation")

    def check_family(self, plan):
        if self.supports(plan):
            return
        if plan.integer_valued:
            raise NotImplementedError("estimator='pathwise': %s is discrete, so its samples "
                                      "have no derivative in theta; use estimator='measure' "
                                      "or 'score' (or a continuous relaxation)" % plan.name)
        super().check_family(plan)

    def wave_terms(self, plan, pf, x, backend, aux=None):
        return pf.values(x, plan, backend), plan.pathwise(x, pf.grad.values(x, plan, backend))

    def terms(self, plan, pf, x3, backend, seen=None):
        """f'(x) . dx/dtheta_j (m, batch_size, P), f' from the prepared grad_f at what
        f sees (``seen``, default the samples)."""
        return plan.pathwise(x3, pf.grad.values(x3 if seen is None else seen, plan, backend))


class MeasureValued(EstimatorKind):
    """The measure-valued estimator: c_j (mean f(x+_j) - mean f(x-_j)).

    dp/dtheta_j = c_j (p+_j - p-_j), a difference of two distributions (the
    weak derivative), with x+ and x- coupled through common random numbers;
    f is only evaluated, never differentiated, so every f works.  A counted
    family (Bernoulli, Categorical) has weak derivatives on its support, and
    its estimate comes exactly from the counts.
    """

    name = "measure"
    slot = "measure"
    needs = frozenset({"f", "coupled"})
    terms_description = "f(x+) - f(x-)"
    points = covariance = True
    #: More evaluations of f per sample than this warn (an Independent's coordinates).
    EVALUATIONS_WARN = 64

    def evaluations_per_sample(self, plan):
        """Evaluations of f per sample of ``plan``: 1 + (Q - 1) G on an Independent of
        G coordinates with Q points each, MultivariateNormal's points (its
        ``wave_factor``), else 1."""
        from ._wrapped import GroupedPlan, JointPlan, WrappedPlan

        while isinstance(plan, WrappedPlan) and not isinstance(plan, JointPlan):
            if isinstance(plan, GroupedPlan):
                return 1 + (plan.base.family.measure - 1) * plan.group
            plan = plan.base
        return self.wave_factor(plan) if self.waves_on(plan) else 1

    def warn(self, plan, stacklevel):
        """Warn of the components without a weak derivative (NaN), and of more than
        EVALUATIONS_WARN evaluations of f per sample."""
        import warnings

        from ._results import component_names

        if plan.measure_coef is not None and plan.batch_size:
            missing = np.isnan(plan.measure_coef).all(axis=0)
            if missing.any():
                names = [nm for nm, gone in zip(component_names(plan), missing) if gone]
                warnings.warn("estimator=%r: %s has no weak derivative for %s here; its "
                              "gradient is NaN (use estimator='score' or 'pathwise' for it)"
                              % (self.name, plan.name, ", ".join(repr(nm) for nm in names)),
                              RuntimeWarning, stacklevel=stacklevel + 1)
        evals = self.evaluations_per_sample(plan)
        if evals > self.EVALUATIONS_WARN:
            warnings.warn("estimator=%r on %s evaluates f %d times per sample (at the sample "
                          "and at each gradient component's coupled points); "
                          "estimator='score' or 'pathwise' evaluates it once"
                          % (self.name, plan.name, evals), RuntimeWarning,
                          stacklevel=stacklevel + 1)

    def point_terms(self, plan, pf, pts, backend):
        """(f at the samples (m, B), terms (m, B, P)) from the coupled points ``pts``
        (m, B, Q [+ P]: the points, then the weights where the family has them)."""
        m, B, Q = pts.shape[0], pts.shape[1], plan.family.measure
        fq = np.asarray(pf.values(pts[:, :, :Q].transpose(2, 0, 1).reshape(Q * m, B, 1), plan,
                                  backend), dtype=np.float64).reshape(Q, m, B)
        diff = fq[1::2] - fq[2::2]
        if plan.family.measure_weights:
            diff = pts[:, :, Q:].transpose(2, 0, 1) * diff
        return fq[0], diff.transpose(1, 2, 0)

    def reference_terms(self, plan, pf, n, key, chunk_start):
        from . import reference

        return self.point_terms(plan, pf, reference.measure_sample(plan, n, key, chunk_start),
                                "reference")

    def supports(self, plan):
        return (self.slot in plan.slots or plan.measure_support is not None
                or self.waves_on(plan))

    def waves_on(self, plan):
        # MultivariateNormal: its weak derivatives in z, computed in NumPy
        return self.slot not in plan.slots and getattr(plan, "measure_wave", None) is not None

    def wave_factor(self, plan):
        D = plan.event_size
        return 1 + D + 2 * D * D   # MultivariateNormal's points

    def wave_terms(self, plan, pf, x, backend, aux=None):
        return plan.measure_wave(lambda pts: pf.values(pts, plan, backend), x, aux)

    def counted(self, plan):
        return plan.measure_support is not None

    def coef(self, plan):
        return plan.measure_coef

    def counted_sums(self, plan, fvals, counts):
        """Exact mean-block sums from support counts.

        Component j's term at support value v is f(plus_j) - f(minus_j), or
        f(plus_j) - f(v) where minus_j is -1 (the sample itself).
        """
        plus, minus = plan.measure_support                                # (B, P)
        B, V = counts.shape
        rows = np.arange(B)[:, None]
        fp = fvals[rows, plus]                                           # (B, P)
        fm = np.where(minus[:, :, None] < 0, fvals[:, None, :],
                      fvals[rows, np.maximum(minus, 0)][:, :, None])     # (B, P, V)
        terms = fp[:, :, None] - fm                                      # (B, P, V)
        c = np.asarray(counts, dtype=np.float64)
        seen = c > 0
        n = c.sum(axis=1)
        out = _moments.sums_from_counts(counts, fvals, np.zeros((B, V, 0)))[:, :_moments.HEAD_WIDTH]
        t = np.where(seen[:, None, :], terms, 0.0)
        with np.errstate(invalid="ignore", over="ignore"):
            ts = (c[:, None, :] * t).sum(axis=2) / n[:, None]
            u = np.where(seen[:, None, :], t - ts[:, :, None], 0.0)
            blocks = np.stack([ts, (c[:, None, :] * u).sum(axis=2),
                               (c[:, None, :] * u * u).sum(axis=2)], axis=-1)  # (B, P, 3)
        return np.concatenate([out, blocks.reshape(B, -1)], axis=1)


def _relaxation(dist, estimator, temperature):
    """The Concrete relaxation of a Bernoulli or Categorical at this temperature."""
    if not hasattr(dist, "relaxation"):
        raise NotImplementedError("estimator=%r relaxes a discrete family; %s has no continuous "
                                  "relaxation here (Bernoulli and Categorical have)"
                                  % (estimator, type(dist).__name__))
    relaxed = dist.relaxation(temperature)
    relaxed._check_resolution(estimator)   # a temperature beyond 2^32 rounds the noise away
    return relaxed


class Concrete(Pathwise):
    """The Concrete (Gumbel-softmax) estimator: the pathwise gradient of E[f(y)] for
    y the relaxed sample at ``temperature``, a biased estimate of the discrete
    gradient (the bias falls with the temperature, the variance rises).

    With ``straight_through=True`` f and f' are evaluated at the hard sample
    H(y) (the one-hot argmax; y > 1/2 for Bernoulli) while the gradient flows
    through y: still biased, but E[f] is then the discrete one.  f must be
    defined on [0, 1] (Bernoulli) or on the simplex of K-vectors (Categorical);
    fastscore.fn.table extends linearly there.
    """

    name = "concrete"
    kernel = "pathwise"
    needs = frozenset({"f", "grad_f", "relaxed"})
    options = {"temperature": TEMPERATURE, "straight_through": STRAIGHT_THROUGH}
    terms_description = "f'(y) dy/dtheta at the relaxed samples y"
    covariance_wrapped = grouped_kernel = False

    def plan_for(self, dist):
        relaxed = _relaxation(dist, self.name, self.settings["temperature"])
        plan = relaxed.plan()
        if self.settings["straight_through"]:
            plan = plan.variant(plan.family.name + "_st", f_input=relaxed._hard_numpy)
        return plan


class Rebar(EstimatorKind):
    """REBAR (Tucker, Mnih, Maddison, Lawson, Sohl-Dickstein 2017): unbiased.

    Per sample, with b the hard sample, z its relaxed logits and z~ drawn
    exactly from p(z | b), and y = sigma_t(z), y~ = sigma_t(z~)::

        g = [f(b) - eta f(y~)] dlog p(b) + eta df(y) - eta df(y~)

    (d: through z, and through z~ with b fixed).  The last terms have
    expectation zero, so g is unbiased for every eta: the finish uses the
    variance-minimising eta = -cov(A, C) / var(C) of the same samples, one
    per parameter component pooled over the batch (``eta="auto"``; a bias of
    O(1 / (batch n))), or the ``eta`` given.  The temperature t is the user's,
    or with ``temperature="auto"`` (the default) the one of TEMPERATURES
    whose estimates have the least total variance over the batch: every
    candidate runs on the same streams (the same u and v, so the same b), at
    one run's cost each, and the choice, like eta's, is made from the same
    samples.  ``Estimate.info`` gives both.  f must be defined on [0, 1] /
    the simplex, like the concrete estimator's.
    """

    name = "rebar"
    slot = "rebar"
    needs = frozenset({"f", "grad_f", "relaxed"})
    block = _specs.CV_BLOCK
    options = {"temperature": TEMPERATURE.default_to("auto"), "eta": ETA}
    terms_description = "REBAR's score and control-variate terms"

    def reference_terms(self, plan, pf, n, key, chunk_start):
        from . import reference

        return self.terms(plan, pf, reference.rebar_sample(plan, n, key, chunk_start),
                          "reference")

    def result_info(self, plan, empty=False):
        """The settings, with the eta and temperature used (dicts by parameter)."""
        info = dict(self.settings)
        if empty:
            info["eta"] = plan.params.split(np.zeros((0, plan.score_size)))
            info["temperature"] = plan.params.split(np.zeros((0, plan.score_size)))
        else:
            info["eta"] = plan.params.split(self.eta_used)
            info["temperature"] = plan.params.split(self.temperature_used)
        return info
    #: The candidate temperatures of temperature="auto" (a factor of 5 apart).
    TEMPERATURES = (0.1, 0.5, 2.5, 12.5, 62.5)
    #: Fewest samples over the batch (batch size x n) for which "auto" chooses
    #: eta and the temperature from the samples.  Below it the choice fits the
    #: noise of a few samples (batch 1: var/mean stderr^2 = 18000 at n = 4, 125
    #: at n = 16, and a bias of 12 standard errors at n = 4; 0.92-0.98 from
    #: 256-1024 samples), so "auto" means eta = 1 and temperature = 0.5 there,
    #: fixed in advance: unbiased, with an honest standard error.
    AUTO_MIN = 1024
    #: What "auto" means below AUTO_MIN.
    SMALL_ETA, SMALL_TEMPERATURE = 1.0, 0.5

    def sized(self, dist, plan, total):
        """(kind, plan) for ``total`` samples over the batch: "auto" fixed in advance below
        AUTO_MIN (see there)."""
        if total >= self.AUTO_MIN:
            return self, plan
        s = dict(self.settings)
        if isinstance(s["eta"], str):
            s["eta"] = self.SMALL_ETA
        if isinstance(s["temperature"], str):
            s["temperature"] = self.SMALL_TEMPERATURE
        out = self.configured(**s)
        return out, out.plan_for(dist)

    def _temperatures(self):
        t = self.settings["temperature"]
        return self.TEMPERATURES if isinstance(t, str) else (t,)

    def plan_for(self, dist):
        self.dist = dist
        return _relaxation(dist, self.name, self._temperatures()[0]).plan()

    def plans(self, plan):
        return [plan] + [_relaxation(self.dist, self.name, t).plan()
                         for t in self._temperatures()[1:]]

    def finish_states(self, impl, plans, pf, states, method, baseline, n_threads):
        """Each temperature's estimate; with several, per batch element and component
        the one with the smallest standard error (its eta, and temperature, kept)."""
        runs = [impl.finish_state(self, p, pf, st, method, baseline, n_threads) + (self.eta_used,)
                for p, st in zip(plans, states)]
        temps = np.array(self._temperatures(), dtype=np.float64)
        if len(runs) == 1:
            self.temperature_used = np.broadcast_to(temps[0], runs[0][0][2].shape)
            return runs[0][:2]
        # One temperature for the call: the least total variance over every batch
        # element and component.  (A choice per element from its own few samples
        # would favour underestimated variances: with 64 samples per row the
        # errors came out 5 standard errors wide.)
        total = [np.nansum(r[0][3] ** 2) if np.isfinite(r[0][3]).any() else np.inf
                 for r in runs]
        best = int(np.argmin(total))
        self.eta_used = runs[best][2]
        self.temperature_used = np.full(runs[best][0][2].shape, temps[best])
        return runs[best][0], runs[best][1]

    def _eta(self, plan, sums):
        """(batch, P): the eta given, or with eta="auto" one per component pooled over
        the batch: -sum_b cov_b(A, C) / sum_b var_b(C), from the sums.

        (A coefficient per batch element from its own few samples couples its
        noise to mean(C): with 64 samples per row the errors came out 7
        standard errors wide.  A pooled one is nearly fixed: its bias is
        O(1 / (batch n)).)
        """
        eta = self.settings["eta"]
        if isinstance(eta, str):
            S = np.asarray(sums, dtype=np.float64)
            n = S[:, _moments.N][:, None]
            blk = lambda nm: _moments.blocks(S, nm, _specs.CV_BLOCK)  # noqa: E731
            with np.errstate(divide="ignore", invalid="ignore"):
                cov = (blk("sum_ac") - blk("sum_a") * blk("sum_c") / n).sum(axis=0)
                var = (blk("sum_cc") - blk("sum_c") * blk("sum_c") / n).sum(axis=0)
                e = np.where(var > 0.0, -cov / var, 0.0)
            return np.ascontiguousarray(np.broadcast_to(e, (plan.batch_size, e.size)))
        e = as_array(eta, "eta").astype(np.float64)
        shape = tuple(plan.batch_shape) + tuple(plan.params.params[0][1])
        return np.ascontiguousarray(np.broadcast_to(e, shape).reshape(plan.batch_size, -1))

    def terms(self, plan, pf, draws, backend):
        """(A, C) side by side (m, batch_size, 2P) from REBAR's draws (f-points,
        f'-points, aux), with f and f' from the prepared f."""
        fpts, gpts, aux = draws
        m, B, E = fpts.shape[1:]
        F = pf.values(fpts.reshape(2 * m, B, E), plan, backend).reshape(2, m, B)
        G = pf.grad.values(gpts.reshape(2 * m, B, E), plan, backend).reshape(2, m, B, E)
        A, C = plan.rebar[1](F, G, gpts, aux)
        return F[0], np.concatenate([A, C], axis=-1)

    def finish(self, plan, sums, method, baseline=None):
        """NumPy twin of _finish.finish_cv; the eta used is kept as ``self.eta_used``."""
        S = np.asarray(sums, dtype=np.float64)
        eta = self._eta(plan, S)
        blk = lambda nm: _moments.blocks(S, nm, _specs.CV_BLOCK)  # noqa: E731
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            n = S[:, _moments.N]
            inv_n = 1.0 / n
            inv_n1 = 1.0 / (n - 1.0)
            md = S[:, _moments.SUM_D] * inv_n
            finite = np.isfinite(S).all(axis=1)
            value = S[:, _moments.SHIFT] + md
            value_se = np.where(finite, _stderr(S[:, _moments.SUM_DD] * inv_n, md, inv_n1),
                                np.nan)
            names = ("a_shift", "sum_a", "sum_aa", "sum_c", "sum_cc", "sum_ac")
            parts = [blk(nm) for nm in names]
            g, se, e, over = _cv_comp(*parts, eta, inv_n[:, None], inv_n1[:, None])
            se = np.where(finite[:, None], se, np.nan)
            over &= finite[:, None]
            if over.any():
                # finite sums, an overflowing finish: again on A and C scaled by 2^-k
                r, j = np.nonzero(over)
                a_shift, _, saa, _, scc, _ = (p[r, j] for p in parts)
                k = _down(np.maximum(np.maximum(_exp_of(a_shift), _half_exp_of(saa)),
                                     _half_exp_of(scc)))
                scaled = [np.ldexp(p[r, j], -k * (2 if nm in ("sum_aa", "sum_cc", "sum_ac")
                                                  else 1)) for p, nm in zip(parts, names)]
                g2, se2, e2, _ = _cv_comp(*scaled, eta[r, j], inv_n[r], inv_n1[r])
                g[r, j] = np.ldexp(g2, k)
                se[r, j] = np.ldexp(se2, k)
                e[r, j] = e2
        self.eta_used = e
        return value, value_se, g, se

    def finish_compiled(self, plan, sums, method, baseline=None, n_threads=1):
        value, value_se, g, se, self.eta_used = _finish.finish_cv(sums, self._eta(plan, sums),
                                                                  n_threads)
        return value, value_se, g, se


def _cv_comp(a_shift, Sa, Saa, Sc, Scc, Sac, eta, inv_n, inv_n1):
    """(gradient, stderr, eta used, overflowed) of control-variate components
    (_cv_comp in _finish.pyx)."""
    ma = Sa * inv_n
    mc = Sc * inv_n
    vc = Scc * inv_n - mc * mc
    cac = Sac * inv_n - ma * mc
    auto = np.where(vc > 0.0, -cac / vc, 0.0)
    e = np.where(np.isnan(eta), auto, eta)
    gm = ma + e * mc
    ez2 = (Saa + 2.0 * e * Sac + e * e * Scc) * inv_n
    g = a_shift + gm
    return g, _stderr(ez2, gm, inv_n1), e, ~(np.isfinite(g) & np.isfinite(ez2)
                                             & np.isfinite(gm * gm))


class ARM(MeasureValued):
    """ARM (Yin, Zhou 2019) for Bernoulli: unbiased, f evaluations only.

    With u uniform, d/dlogits E f = E[(f(1[u > 1 - p]) - f(1[u < p])) (u - 1/2)]:
    two antithetic evaluations of f per sample (kept in the measure-valued
    form: points 1[u > 1 - p] and 1[u < p], weight u - 1/2).
    """

    name = "arm"
    kernel = "measure"
    needs = frozenset({"f"})
    terms_description = "ARM's f(x+) - f(x-) times its weight"

    def warn(self, plan, stacklevel):
        """Nothing to warn of: two evaluations of f per sample, every component's."""

    def evaluations_per_sample(self, plan):
        return 1

    def supports(self, plan):
        return self.slot in plan.slots

    def counted(self, plan):
        return False

    def plan_for(self, dist):
        if not hasattr(dist, "antithetic_plan"):
            raise NotImplementedError(
                "estimator=%r: antithetic estimators are built for Bernoulli here; %s has none "
                "(the multi-sample variants for categorical variables, ARSM and U2G, are not "
                "implemented: use estimator='rebar', 'measure' or 'score' with method='rloo')"
                % (self.name, type(dist).__name__))
        return dist.antithetic_plan(self.name)


class DisARM(ARM):
    """DisARM (Dong, Mnih, Tucker 2020) for Bernoulli: ARM with the randomness the
    antithetic pair does not share integrated out.  With b = 1[u < p] and
    b~ = 1[1 - u < p], d/dlogits E f = E[(f(b) - f(b~)) (-1)^b~ 1[b != b~]
    sigma(|logits|) / 2]: unbiased, lower variance than ARM.
    """

    name = "disarm"
    terms_description = "DisARM's f(x+) - f(x-) times its weight"


class IndeCateR(EstimatorKind):
    """IndeCateR (De Smet, Sansone, Zuidberg Dos Martires, NeurIPS 2023) for
    independent Bernoulli and Categorical coordinates (``fs.Independent`` of
    them; a lone one is an Independent of no dimensions).

    Per sample x and coordinate j, f is summed exactly over the coordinate's
    K values with the other coordinates held at the sample:
    d/dtheta_j E f = E_x[sum_k f(x_-j, k) dp_j(k)/dtheta_j], Rao-Blackwellised
    in x_j.  Unbiased; D K evaluations of f per sample (f at the sample
    among them); the gradient's
    standard error is that of the mean of independent per-sample terms.
    Runs in NumPy waves on the kernels' samples (any f, evaluated on them).
    """

    name = "indecater"
    slot = "indecater"
    kernel = "measure"   # not a kernel loop: its terms fold into a mean block
    needs = frozenset({"f"})
    terms_description = "each coordinate's f summed over its values, times dp/dtheta"
    waves = True
    #: Samples x coordinates one call of f holds at most.
    CALL_VALUES = 1 << 20

    def plan_for(self, dist):
        from .joint import Independent

        if not isinstance(dist, Independent):
            dist = Independent(dist, 0)
        return dist.plan()

    def supports(self, plan):
        base = getattr(plan, "base", None)
        return (getattr(plan, "group", None) is not None and base.counted
                and base.support_probs is not None and base.measure_support is not None)

    def wave_factor(self, plan):
        return plan.base.support.size

    def check_family(self, plan):
        if not self.supports(plan):
            raise NotImplementedError("estimator='indecater' sums f over each coordinate's "
                                      "values: it takes Bernoulli and Categorical, alone or in "
                                      "fs.Independent; got %s" % plan.name)

    def wave_terms(self, plan, pf, x, backend, aux=None):
        """f at the samples, and each coordinate's exact sum over its values."""
        base = plan.base
        m, B, G = x.shape[0], plan.batch_size, plan.group
        sup = base.support
        V = sup.size
        probs = base.support_probs.reshape(B, G, V)
        plus, minus = (a.reshape(B, G, -1) for a in base.measure_support)
        coef = base.measure_coef.reshape(B, G, -1)
        F = np.empty((m, B, G, V))
        pairs = [(g, v) for g in range(G) for v in range(V)]
        step = max(1, self.CALL_VALUES // max(1, m * B * G))
        for i0 in range(0, len(pairs), step):
            chunk = pairs[i0:i0 + step]
            X = np.repeat(x[None], len(chunk), axis=0)                  # (k, m, B, G)
            for i, (g, v) in enumerate(chunk):
                X[i, :, :, g] = sup[v]
            fv = pf.values(X.reshape(len(chunk) * m, B, G), plan, backend).reshape(
                len(chunk), m, B)
            for i, (g, v) in enumerate(chunk):
                F[:, :, g, v] = fv[i]
        # f at the sample: the first coordinate's own value among its points
        own = np.searchsorted(sup, x[:, :, 0]).astype(np.intp)
        f0 = np.take_along_axis(F[:, :, 0, :], own[..., None], axis=-1)[..., 0]
        with np.errstate(invalid="ignore", over="ignore"):
            ef = (F * probs[None]).sum(axis=-1)                          # (m, B, G)
            fp = np.take_along_axis(F, np.broadcast_to(plus[None], (m,) + plus.shape), -1)
            fm = np.take_along_axis(F, np.broadcast_to(np.maximum(minus, 0)[None],
                                                       (m,) + minus.shape), -1)
            fm = np.where(minus[None] < 0, ef[..., None], fm)
            terms = coef[None] * (fp - fm)                               # (m, B, G, P)
        return f0, plan._regroup_components(terms.reshape(m, B * G, -1))


class VIMCO(EstimatorKind):
    """VIMCO (Mnih, Rezende 2016): the multi-sample objective
    L = log((1/K) sum_k w(x_k)), x_1..x_K independent draws of the distribution,
    f = log w given by the user (``num_draws=K``).

    Per group of K draws, the gradient is sum_k (L - L_-k) d/dtheta log p(x_k),
    with the leave-one-out L_-k in which log w(x_k) is replaced by the mean of
    the other K - 1 (the geometric mean of their w): an unbiased gradient of
    E[L], each draw's learning signal free of its own sample.  ``n`` is the
    number of groups (n K draws in all); the value is E[L], and every standard
    error is that of a mean of independent groups.
    """

    name = "vimco"
    slot = "score"
    kernel = "measure"   # not a kernel loop: its terms fold into a mean block
    needs = frozenset({"f"})
    terms_description = "the leave-one-out learning signals times each draw's score"
    options = {"num_draws": NUM_DRAWS}
    waves = True

    def plan_for(self, dist):
        from . import _wrapped
        from .joint import Independent, replicate

        k = self.settings["num_draws"]
        orig = dist.score_plan()
        return _wrapped.MultiSamplePlan(orig, Independent(replicate(dist, k), 1).score_plan(), k)

    def wave_factor(self, plan):
        return plan.k

    def wave_terms(self, plan, pf, x, backend, aux=None):
        """L per group of K draws, and sum_k (L - L_-k) times each draw's score."""
        m, B, K = x.shape[0], plan.batch_size, plan.k
        lw = pf.values(plan.draws(x), plan.orig, backend).reshape(m, K, B).transpose(0, 2, 1)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            L = special.logsumexp(lw, axis=-1) - np.log(K)
            hat = (lw.sum(axis=-1, keepdims=True) - lw) / (K - 1)
            loo = np.empty_like(lw)
            for k in range(K):
                z = lw.copy()
                z[..., k] = hat[..., k]
                loo[..., k] = special.logsumexp(z, axis=-1) - np.log(K)
            signal = L[..., None] - loo                                  # (m, B, K)
            terms = [np.einsum("mbk,mbkc->mbc", signal, S) for S in plan.per_draw_scores(x)]
        return L, np.concatenate(terms, axis=-1)


SCORE = ScoreFunction()
SCORE_CV = ScoreCV()
PATHWISE = Pathwise()
MEASURE = MeasureValued()
#: The estimator kinds by name.
KINDS = {kind.name: kind for kind in (SCORE, PATHWISE, MEASURE, Concrete(), Rebar(), ARM(),
                                      DisARM(), IndeCateR(), VIMCO())}
assert {k.kernel or k.name for k in list(KINDS.values()) + [SCORE_CV]} == set(_specs.KERNEL_KINDS)
#: Every option some kind takes, by name (fs.estimate passes all of them).
_ALL_OPTIONS = {nm: opt for kind in KINDS.values() for nm, opt in kind.options.items()}


def lookup(estimator):
    """The kind called ``estimator`` (ValueError listing the kinds otherwise)."""
    if estimator not in KINDS:
        raise ValueError("estimator must be one of %s, got %r"
                         % (", ".join(repr(k) for k in KINDS), estimator))
    return KINDS[estimator]
