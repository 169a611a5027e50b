"""Covariances of the gradient components (``fs.estimate(..., cov=True)``).

The default path never computes them: the kernels' rows hold per component
sums only.  With cov=True a separate pass re-draws the very samples of the
estimate (the same Philox streams, chunk by chunk), evaluates f and the
estimator's per-sample terms t_ij in NumPy, and forms the cross products
sum_i t_ij t_ik per batch element.  Per method the covariance is the one
whose diagonal is the method's stderr^2:

* plain, baseline, pathwise, concrete (independent terms): the sample
  covariance of the terms over n;
* rloo: ((n - 1) mean(t_j t_k) - (n - 2) g_j g_k) / (n^2 - 2n + 2), the
  unbiased form for its correlated terms (E[t_ij t_lk] = theta_j theta_k
  (1 + 1/(n - 1)^2) for i != l);
* cv: the sample covariance of the cross-fitted terms (f_i - b_{j,fold(i)}) s_ij,
  with the baselines of the estimate's folds;
* measure, arm, disarm: the sample covariance of the terms c_j (f(x+_j) -
  f(x-_j)) (times the antithetic weight), from the coupled points drawn by
  the reference backend's twin of the kernels' draw (the same points).

The diagonal is set to stderr^2 exactly, so est.stderr ** 2 == diag(est.cov)
bit for bit.  Terms above 2^COV_TARGET (|f| beyond ~1e120) are scaled by
powers of two per batch element and component before their cross products
are summed, and the covariance scaled back (exact: the bits are those of
the unscaled sums wherever those do not overflow), so a covariance that
float64 holds comes out finite; one that it does not comes out +-inf.  The pass holds one chunk range's samples at a time (rloo's
mean f and cv's fold baselines come from the estimate's own pass).  REBAR
(several relaxations, eta chosen per run) has no covariance yet and refuses
cov=True.
"""

import numpy as np

from . import _moments, _specs
from ._rng import CHUNK_SIZE

def check(kind, plan=None):
    """Raise for the kinds without covariances."""
    from . import _wrapped

    if plan is not None and kind.waves_on(plan):
        raise NotImplementedError("cov=True: %s's %s estimator runs in NumPy waves, which keep "
                                  "no covariance yet" % (plan.name, kind.name))
    from ._kinds import KINDS

    if isinstance(plan, _wrapped.WrappedPlan) and not kind.covariance_wrapped:
        raise NotImplementedError("cov=True on %s is available for %s"
                                  % (plan.name, _listed(k for k in KINDS.values()
                                                        if k.covariance_wrapped)))
    if not kind.covariance:
        raise NotImplementedError("cov=True is available for %s; estimator=%r has no "
                                  "covariance yet"
                                  % (_listed(k for k in KINDS.values() if k.covariance),
                                     kind.name))


def _listed(kinds):
    """"estimator='a', 'b' and 'c'" of these kinds."""
    names = ["%r" % k.name for k in kinds]
    return "estimator=" + (" and ".join([", ".join(names[:-1]), names[-1]])
                           if len(names) > 1 else names[0])


def _draw(plan, n, key, backend, c0, c1, nt):
    from . import _wrapped

    if isinstance(plan, _wrapped.WrappedPlan):   # a joint distribution's own layout
        from . import _compiled, reference

        impl = _compiled if backend == "compiled" else reference
        return _wrapped.Backend(impl, backend).draw(plan, n, key, nt, (c0, c1))
    if backend == "compiled":
        from . import _compiled

        return _compiled.sample(plan, n, key, nt, chunks=(c0, c1))
    from . import reference

    x3 = reference.sample(plan, min(n, c1 * CHUNK_SIZE), key, c0)
    return x3


def _fold_baselines(S, P):
    """Per row, fold and component, the cv baseline b (B, CV_FOLDS, P) from fold sums,
    the formulas of _finish.finish_folds; NaN where n < 3 (cv is rloo there)."""
    K = _specs.CV_FOLDS
    B = S.shape[0]
    W = S.shape[1] // K
    T = _moments.fold_total(S)
    n = T[:, _moments.N]
    sub = [S[:, k * W:(k + 1) * W] for k in range(K)]
    out = np.full((B, K, P), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        for b in range(B):
            if not n[b] >= 3:
                continue
            ke = int(min(n[b], K))
            reach = (ke - 1) // 2
            for k in range(ke):
                shift_k = sub[k][b, _moments.SHIFT]
                num = np.zeros(P)
                den = np.zeros(P)
                cnt = 0.0
                sdm = 0.0
                for r in range(1, reach + 1):
                    Sj = sub[(k + r) % ke][b]
                    dsh = Sj[_moments.SHIFT] - shift_k
                    num = num + (dsh * _moments.blocks(Sj, "sum_ss") + _moments.blocks(Sj, "sum_dss"))
                    den = den + _moments.blocks(Sj, "sum_ss")
                    cnt = cnt + Sj[_moments.N]
                    sdm = sdm + (dsh * Sj[_moments.N] + Sj[_moments.SUM_D])
                c = np.where(den > 0.0, -num / den, -sdm / cnt)
                out[b, k] = shift_k - c
    return out


#: Terms of magnitude up to 2^COV_TARGET are summed as they are (their cross products
#: stay below 2^800, and the sums of 2^62 of them below 2^862); larger ones are scaled.
COV_TARGET = 400


def _scale_exponent(t):
    """Per batch element and component, the k with max |t| 2^-k < 2^COV_TARGET (0: none)."""
    if t.shape[0] == 0:
        return np.zeros(t.shape[1:], dtype=np.int64)
    with np.errstate(invalid="ignore"):
        top = np.abs(t).max(axis=0)
    e = np.frexp(np.where(np.isfinite(top), top, 0.0))[1].astype(np.int64)
    return np.maximum(e - COV_TARGET, 0)


def covariance(kind, plan, pf, n, key, backend, method, baseline, results, nt,
               chunks_per_pass=16):
    """(B, P, P) covariances of the P gradient components, consistent with ``results``."""
    value, _, g, se = results
    B, P = g.shape
    cross = np.zeros((B, P, P))
    tsum = np.zeros((B, P))
    k = np.zeros((B, P), dtype=np.int64)   # the terms' scale exponents so far
    n_chunks = -(-n // CHUNK_SIZE)
    fbar = np.asarray(value, dtype=np.float64).reshape(B)
    bases = None
    if kind.folds:   # the score function's cv: the baselines of the estimate's folds
        bases = _fold_baselines(_cv_sums(kind, plan, pf, n, key, backend, nt, chunks_per_pass),
                                P)
    for c0 in range(0, n_chunks, chunks_per_pass):
        c1 = min(n_chunks, c0 + chunks_per_pass)
        if kind.points:
            t = _measure_terms(kind, plan, pf, n, key, backend, c0, c1)
        else:
            x3 = _draw(plan, n, key, backend, c0, c1, nt)
            t = _terms(kind, plan, pf, x3, backend, method, baseline, fbar, bases, n,
                       c0 * CHUNK_SIZE)
        knew = np.maximum(k, _scale_exponent(t))
        if (knew != k).any():   # larger terms: the sums so far onto the new scale
            up = k - knew
            cross = np.ldexp(cross, up[:, :, None] + up[:, None, :])
            tsum = np.ldexp(tsum, up)
            k = knew
        if k.any():
            t = np.ldexp(t, -k[None])
        with np.errstate(invalid="ignore", over="ignore"):
            cross += np.einsum("mbj,mbk->bjk", t, t)
            tsum += t.sum(axis=0)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore", under="ignore"):
        m2 = cross / n
        gm = tsum / n
        gg = gm[:, :, None] * gm[:, None, :]
        if kind.pairwise_cov(method, n):
            cov = ((n - 1.0) * m2 - (n - 2.0) * gg) / ((n - 2.0) * n + 2.0)
        else:
            cov = (m2 - gg) / (n - 1.0)
        coef = kind.coef(plan)
        if coef is not None:
            cov = coef[:, :, None] * cov * coef[:, None, :]
        if k.any():
            cov = np.ldexp(cov, k[:, :, None] + k[:, None, :])
        se = np.asarray(se, dtype=np.float64)
        diag = se * se
    idx = np.arange(P)
    cov[:, idx, idx] = diag
    return cov


def _cv_sums(kind, plan, pf, n, key, backend, nt, chunks_per_pass):
    """The fold sums of the estimate's samples (for the cv baselines), in NumPy."""
    n_chunks = -(-n // CHUNK_SIZE)
    state = None
    for c0 in range(0, n_chunks, chunks_per_pass):
        c1 = min(n_chunks, c0 + chunks_per_pass)
        x3 = _draw(plan, n, key, backend, c0, c1, nt)
        seen = plan.f_input(x3) if plan.f_input is not None else x3
        fx = (plan.wave_f(pf) if hasattr(plan, "wave_f") else pf).values(seen, plan, backend)
        state = _moments.fold_sums_from_samples(fx, plan.score(x3), CHUNK_SIZE, state,
                                                c0 * CHUNK_SIZE)
    return state


def _measure_terms(kind, plan, pf, n, key, backend, c0, c1):
    """The measure-valued kinds' terms f(x+) - f(x-) (times their weights) (m, B, P) of
    chunks [c0, c1), before the constants c_j."""
    from . import reference

    if kind.counted(plan):  # a finite support: the terms of each sample's value
        x = _draw(plan, n, key, backend, c0, c1, 1)[:, :, 0].astype(np.int64)   # (m, B)
        fv = np.asarray(pf.on_support(plan, backend), dtype=np.float64)        # (B, V)
        plus, minus = plan.measure_support                                     # (B, P)
        rows = np.arange(fv.shape[0])[:, None]
        fp = fv[rows, plus]                                                    # (B, P)
        fx = fv[rows.T, x]                                                     # (m, B)
        fm = np.where(minus < 0, fx[:, :, None], fv[rows, np.maximum(minus, 0)])
        return fp - fm
    pts = reference.measure_sample(plan, min(n, c1 * CHUNK_SIZE), key, c0)      # (m, B, Q [+ P])
    return kind.point_terms(plan, pf, pts, backend)[1]


def _terms(kind, plan, pf, x3, backend, method, baseline, fbar, bases, n, first):
    """Per-sample terms (m, B, P) of the estimator, as its finish weighs them."""
    if hasattr(plan, "wave_f"):   # a joint distribution: f as its waves call it
        pf = plan.wave_f(pf)
    seen = plan.f_input(x3) if plan.f_input is not None else x3
    fx = np.asarray(pf.values(seen, plan, backend), dtype=np.float64)      # (m, B)
    return kind.cov_terms(plan, pf, x3, seen, fx, backend, method, baseline, fbar, bases, n,
                          first)


def components(plan):
    """[(name, index)] of the gradient components, each parameter's entries in C order."""
    out = []
    for nm, ev, packing in plan.params.params:
        if packing == "tril":   # the matrix in the last two axes, expanded
            D = ev[-1]
            out.extend((nm, lead + (i, j)) for lead in np.ndindex(*ev[:-2])
                       for i in range(D) for j in range(D))
        else:
            out.extend((nm, idx) for idx in np.ndindex(*ev)) if ev else out.append((nm, ()))
    return out


def expand(plan, cov):
    """(B, P, P) over the packed components -> (B, Q, Q) over every entry in C order
    (MultivariateNormal's scale_tril: zero rows and columns above the diagonal)."""
    cols = []
    j = 0
    for nm, ev, packing in plan.params.params:
        k = plan.params._n_components(ev, packing)
        if packing == "tril":
            D = ev[-1]
            rows, cs = np.tril_indices(D)
            for g in range(int(np.prod(ev[:-2], dtype=np.int64))):
                full = -np.ones(D * D, dtype=np.int64)
                full[rows * D + cs] = j + g * rows.size + np.arange(rows.size)
                cols.extend(full.tolist())
        else:
            cols.extend(range(j, j + k))
        j += k
    cols = np.asarray(cols)
    if (cols >= 0).all():
        return cov
    B = cov.shape[0]
    Q = cols.size
    out = np.zeros((B, Q, Q))
    ok = np.flatnonzero(cols >= 0)
    out[:, ok[:, None], ok[None, :]] = cov[:, cols[ok][:, None], cols[ok][None, :]]
    return out
