"""The score-function estimator ("score") and its cross-fitted cv rows."""

import numpy as np

from .. import _finish, _moments, _specs
from .._errors import RESCALE_HINT
from .._layout import as_array
from .base import (EstimatorKind, _down, _exp_of, _half_exp_of, _stderr, _stderr_var,
                   value_head)


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
    methods = _specs.SCORE_METHODS   # their codes in the finishes: FS_M_* of _layout.h
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
        from .._wrapped import _rows_of

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
            shift = S[:, _moments.SHIFT]
            n, inv_n, inv_n1, md, finite, value, value_se = value_head(S)
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


SCORE_CV = ScoreCV()
