"""Accuracy, sanity and speed checks of fastscore/_implicit.h (dev tool).

    python -m venv /tmp/venv-implicit && /tmp/venv-implicit/bin/pip install mpmath numpy scipy
    /tmp/venv-implicit/bin/python bench/check_implicit.py [--quick] [--no-bench] [--only ...]

The header is compiled into a shared library in /tmp (a tiny shim .c that
includes it, built with the project's flags -O3 -ffp-contract=off
-fno-math-errno, plus -Wall -Wextra -pedantic -Werror, plus $FS_CHECK_CFLAGS,
with -fopenmp where available) and called through ctypes.  Every value is
compared with a reference computed with mpmath at 40 digits (references are
cached in /tmp/fs_implicit_check):

* Gamma: -(d/da P(a, x)) / p(x) with P = mpmath.gammainc(a, 0, x, regularized=True)
  differentiated by mpmath.diff; above x = a as +(dQ/da)/p with the upper function
  Q = gammainc(a, x, inf), since P is 1 to 40 digits where Q < 1e-40;
* Beta: the same with mpmath.betainc (lower function below the mean, upper above);
  for min(a, b) >= 1 and a + b > 1000, where betainc takes ~50 s a point, as the
  quadrature dI/da = int_0^x p(t) (log t - psi(a) + psi(a+b)) dt (and likewise for
  b), cross-checked against the betainc derivative at a few points;
* von Mises: dx/dk = -int_0^x exp(k (cos t - cos x)) (cos t - A(k)) dt, which is
  -(dF/dk)/p written as one integral (dF/dk = int p (cos t - A) dt, A = I1/I0),
  by mpmath.quad, taken from the side (0..x or x..pi) where the integrand has one
  sign; checked against d/dk of the mpmath-quadrature CDF at a few points.

Parameters run over grids and x over quantiles 1e-12 .. 1 - 1e-12 (computed with
scipy's inverse CDFs; the reference is then evaluated at exactly that double x,
so the check is of the function, not of the quantile routine).  The max relative
error is reported per regime (the regime numbers come from the header's own
dispatch functions).  Further sections:

  tables    every constant table in the header equals bench/gen_implicit_coeffs.py's output
  lgamma    fs_lgamma, fs_digamma against mpmath (and scipy.special for comparison)
  random    seeded random points, and points just either side of every regime boundary
  vonmises  also, for comparison, the Fourier-series CDF that the header does not use
  twins     fastscore/_implicit_ref.py against mpmath and against the C code
  mc        Monte-Carlo identities with numpy's samplers: E[dx/da] = dE[x]/da = 1 and
            E[2x dx/da] = dE[x^2]/da = 2a + 1 (Gamma), E[dx/da] = b/(a+b)^2 and
            E[dx/db] = -a/(a+b)^2 (Beta), E[-sin x dx/dk] = dA/dk (von Mises)
  extremes  finiteness and sign at extreme inputs, accuracy at tiny shapes, NaN for invalid input
  threads   the functions from an OpenMP parallel loop give the serial results bit for bit
  (bench)   ns per call per regime and per parameter value, median and min of 7 rounds

Exit status 0 when every check meets its target (Gamma, von Mises 1e-10, Beta 1e-9
relative; Monte-Carlo |z| < 5).  $CC picks the compiler; $FS_CHECK_CFLAGS adds flags
(e.g. "-O0", or "-march=native -ffp-contract=fast" to test FMA contraction).
"""

import argparse
import ctypes
import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np
import scipy.special as sc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HEADER = os.path.join(ROOT, "fastscore", "_implicit.h")
WORK = "/tmp/fs_implicit_check"
FLAGS = [
    "-std=c99",
    "-O3",
    "-ffp-contract=off",
    "-fno-math-errno",
    "-Wall",
    "-Wextra",
    "-pedantic",
    "-Werror",
    "-shared",
    "-fPIC",
]

SHIM = r"""
#define _POSIX_C_SOURCE 199309L
#include <time.h>
#include "_implicit.h"

void x_lgamma(const double *x, double *out, long n)
{
    long i;
    for (i = 0; i < n; i++)
        out[i] = fs_lgamma(x[i]);
}

void x_digamma(const double *x, double *out, long n)
{
    long i;
    for (i = 0; i < n; i++)
        out[i] = fs_digamma(x[i]);
}

void x_gamma(const double *a, const double *x, double *out, int *reg, long n)
{
    long i;
    for (i = 0; i < n; i++) {
        out[i] = fs_gamma_dx_dshape(a[i], x[i]);
        reg[i] = fs__gamma_regime(a[i], x[i]);
    }
}

#ifdef HAVE_BETA
void x_beta(const double *a, const double *b, const double *x, double *da, double *db,
            int *reg, long n)
{
    long i;
    for (i = 0; i < n; i++) {
        fs_beta_dx_dab(a[i], b[i], x[i], da + i, db + i);
        reg[i] = fs__beta_regime(a[i], b[i], x[i]);
    }
}
#endif

#ifdef HAVE_VM
void x_vm(const double *k, const double *x, double *out, int *reg, long n)
{
    long i;
    for (i = 0; i < n; i++) {
        out[i] = fs_vonmises_dx_dconc(k[i], x[i]);
        reg[i] = fs__vonmises_regime(k[i], x[i]);
    }
}
#endif

#ifdef _OPENMP
/* every function over arrays from an OpenMP parallel loop (dynamic schedule,
   so neighbouring inputs run on different threads): compared bit for bit
   with the serial loops above */
void x_all_omp(const double *p1, const double *p2, const double *p3,
               double *o1, double *o2, double *o3, long n)
{
    long i;
#pragma omp parallel for schedule(dynamic, 7)
    for (i = 0; i < n; i++) {
        o1[i] = fs_gamma_dx_dshape(p1[i], p2[i]);
#ifdef HAVE_BETA
        fs_beta_dx_dab(p1[i], p2[i], p3[i], o2 + i, o3 + i);
#endif
#ifdef HAVE_VM
        o3[i] = o3[i] + fs_vonmises_dx_dconc(p1[i], p3[i] * 3.0);
#endif
    }
}
#endif

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

/* ns per call over the n given inputs, each called reps times in a row */
double t_gamma(const double *a, const double *x, long n, long reps)
{
    volatile double sink = 0.0;
    double acc = 0.0, t0 = now_ns();
    long i, r;
    for (r = 0; r < reps; r++)
        for (i = 0; i < n; i++)
            acc += fs_gamma_dx_dshape(a[i], x[i]);
    sink = acc;
    (void)sink;
    return (now_ns() - t0) / ((double)n * reps);
}

#ifdef HAVE_BETA
double t_beta(const double *a, const double *b, const double *x, long n, long reps)
{
    volatile double sink = 0.0;
    double acc = 0.0, t0 = now_ns(), da, db;
    long i, r;
    for (r = 0; r < reps; r++)
        for (i = 0; i < n; i++) {
            fs_beta_dx_dab(a[i], b[i], x[i], &da, &db);
            acc += da + db;
        }
    sink = acc;
    (void)sink;
    return (now_ns() - t0) / ((double)n * reps);
}
#endif

#ifdef HAVE_VM
double t_vm(const double *k, const double *x, long n, long reps)
{
    volatile double sink = 0.0;
    double acc = 0.0, t0 = now_ns();
    long i, r;
    for (r = 0; r < reps; r++)
        for (i = 0; i < n; i++)
            acc += fs_vonmises_dx_dconc(k[i], x[i]);
    sink = acc;
    (void)sink;
    return (now_ns() - t0) / ((double)n * reps);
}
#endif
"""

D = ctypes.POINTER(ctypes.c_double)
I = ctypes.POINTER(ctypes.c_int)


def build():
    os.makedirs(WORK, exist_ok=True)
    src = os.path.join(WORK, "shim.c")
    text = open(HEADER).read()
    defs = []
    if "void fs_beta_dx_dab(" in text:
        defs.append("-DHAVE_BETA")
    if "double fs_vonmises_dx_dconc(" in text:
        defs.append("-DHAVE_VM")
    with open(src, "w") as f:
        f.write(SHIM)
    # a fresh name per build: dlopen hands back an already loaded library for a path it has seen
    build.count = getattr(build, "count", 0) + 1
    so = os.path.join(WORK, "shim_%d_%d.so" % (os.getpid(), build.count))
    cc = os.environ.get("CC", "cc")
    extra = os.environ.get(
        "FS_CHECK_CFLAGS", ""
    ).split()  # e.g. "-O0" or "-march=native -ffp-contract=fast"
    cmd = [cc] + FLAGS + extra + defs + ["-I", os.path.dirname(HEADER), "-o", so, src, "-lm"]
    try:  # with OpenMP where the compiler has it (for the threads check)
        subprocess.check_call(cmd[:1] + ["-fopenmp"] + cmd[1:], stderr=subprocess.DEVNULL)
    except subprocess.CalledProcessError:
        subprocess.check_call(cmd)
    lib = ctypes.CDLL(so)
    os.unlink(so)
    lib.have_beta = "-DHAVE_BETA" in defs
    lib.have_vm = "-DHAVE_VM" in defs
    for name in ("t_gamma", "t_beta", "t_vm"):
        if hasattr(lib, name):
            getattr(lib, name).restype = ctypes.c_double
    return lib


def ptr(a, t=D):
    return a.ctypes.data_as(t)


def c_gamma(lib, a, x):
    a, x = np.broadcast_arrays(np.asarray(a, float), np.asarray(x, float))
    a, x = np.ascontiguousarray(a.ravel()), np.ascontiguousarray(x.ravel())
    out = np.empty_like(a)
    reg = np.empty(a.shape, np.int32)
    lib.x_gamma(ptr(a), ptr(x), ptr(out), ptr(reg, I), ctypes.c_long(a.size))
    return out, reg


def c_beta(lib, a, b, x):
    a, b, x = (
        np.ascontiguousarray(v.ravel())
        for v in np.broadcast_arrays(*(np.asarray(v, float) for v in (a, b, x)))
    )
    da, db = np.empty_like(a), np.empty_like(a)
    reg = np.empty(a.shape, np.int32)
    lib.x_beta(ptr(a), ptr(b), ptr(x), ptr(da), ptr(db), ptr(reg, I), ctypes.c_long(a.size))
    return da, db, reg


def c_vm(lib, k, x):
    k, x = (
        np.ascontiguousarray(v.ravel())
        for v in np.broadcast_arrays(np.asarray(k, float), np.asarray(x, float))
    )
    out = np.empty_like(k)
    reg = np.empty(k.shape, np.int32)
    lib.x_vm(ptr(k), ptr(x), ptr(out), ptr(reg, I), ctypes.c_long(k.size))
    return out, reg


def c_unary(lib, name, x):
    x = np.ascontiguousarray(np.asarray(x, float).ravel())
    out = np.empty_like(x)
    getattr(lib, name)(ptr(x), ptr(out), ctypes.c_long(x.size))
    return out


# ---------------------------------------------------------------- references


def cached(name, key, compute):
    """compute() -> dict of arrays, cached under WORK by a hash of key."""
    os.makedirs(WORK, exist_ok=True)
    h = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = os.path.join(WORK, "ref_%s_%s.npz" % (name, h))
    if os.path.exists(path):
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    t0 = time.time()
    out = compute()
    np.savez(path, **out)
    print("  (reference %s: %.0f s, cached in %s)" % (name, time.time() - t0, path))
    return out


def mp():
    import mpmath

    mpmath.mp.dps = 40
    return mpmath


def ref_gamma_point(a, x):
    """-(dP/da)/p at 40 digits; above x = a as +(dQ/da)/p, Q = 1 - P, because
    where Q < 1e-40 the lower function is 1 to working precision."""
    m = mp()
    a, x = m.mpf(a), m.mpf(x)
    logp = (a - 1) * m.log(x) - x - m.loggamma(a)
    if x > a:
        d = m.diff(lambda s: m.gammainc(s, x, m.inf, regularized=True), a)
        return float(d / m.exp(logp))
    d = m.diff(lambda s: m.gammainc(s, 0, x, regularized=True), a)
    return float(-d / m.exp(logp))


QUANTILES = np.array(
    sorted(
        set(
            [1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5]
            + [
                1 - q
                for q in (1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 0.05, 0.1, 0.2, 0.3, 0.4)
            ]
        )
    )
)


def relerr(c, r):
    c, r = np.asarray(c), np.asarray(r)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.abs(c - r) / np.abs(r)
    e[(c == r)] = 0.0
    return e


def report(title, err, reg, names, extra=None):
    print("  %-34s %8s %10s %10s" % (title, "points", "max rel", "median"))
    for k, nm in enumerate(names):
        m = reg == k
        if m.any():
            e = err[m]
            print("    %-32s %8d %10.1e %10.1e" % (nm, m.sum(), np.nanmax(e), np.nanmedian(e)))
    nbad = int(np.sum(~np.isfinite(err)))
    print(
        "    %-32s %8d %10.1e%s"
        % ("all", err.size, np.nanmax(err), "   (%d non-finite!)" % nbad if nbad else "")
    )
    if extra:
        print("    " + extra)
    return float(np.nanmax(err)) if not nbad else float("inf")


def worst(err, *cols, n=3):
    idx = np.argsort(-np.nan_to_num(err, nan=np.inf))[:n]
    return "; ".join("(" + ", ".join("%.4g" % c[i] for c in cols) + ") %.1e" % err[i] for i in idx)


# ------------------------------------------------------------------- tables


def parse_tables(text):
    """{name: flat float array} of every 'static const double NAME[..] = {...};' in text"""
    import re

    out = {}
    for m in re.finditer(
        r"static const double (FS_\w+)\s*(?:\[[^\]]*\])+\s*=\s*\{(.*?)\};", text, re.S
    ):
        body = re.sub(r"/\*.*?\*/", "", m.group(2), flags=re.S)
        out[m.group(1)] = np.array(
            [float(v) for v in re.findall(r"[-+]?\d[\d.]*(?:e[-+]?\d+)?", body)]
        )
    return out


def check_tables():
    import contextlib
    import io

    sys.path.insert(0, HERE)
    try:
        import gen_implicit_coeffs
    finally:
        sys.path.pop(0)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        gen_implicit_coeffs.main()
    gen, hdr = parse_tables(buf.getvalue()), parse_tables(open(HEADER).read())
    ok = True
    for name, v in gen.items():
        same = name in hdr and hdr[name].shape == v.shape and np.array_equal(hdr[name], v)
        ok &= same
        if not same:
            print("  table %s differs from bench/gen_implicit_coeffs.py" % name)
    print("\ntables: %d in the header, all equal to the generator's output: %s" % (len(gen), ok))
    return ok


# -------------------------------------------------------------- lgamma, psi


def check_lgamma(lib, quick):
    print("\nfs_lgamma, fs_digamma against mpmath and scipy.special (x > 0)")
    m = mp()
    xs = np.concatenate(
        [
            np.logspace(-300, -1, 60),
            np.linspace(0.1, 3.0, 291),
            np.logspace(0.5, 300, 400),
            [0.5, 1.0, 1.5, 2.0, 2.5, 10.0, 1.4616321449683623, 1 + 1e-9, 2 - 1e-9],
        ]
    )
    xs = np.unique(xs)
    lg = c_unary(lib, "x_lgamma", xs)
    dg = c_unary(lib, "x_digamma", xs)
    rl = np.array([float(m.loggamma(x)) for x in xs])
    rd = np.array([float(m.digamma(x)) for x in xs])
    el = np.abs(lg - rl) / np.maximum(np.abs(rl), 1e-300)
    ed = np.abs(dg - rd) / np.maximum(np.abs(rd), 1e-300)
    es = np.abs(sc.gammaln(xs) - rl) / np.maximum(np.abs(rl), 1e-300)
    eds = np.abs(sc.psi(xs) - rd) / np.maximum(np.abs(rd), 1e-300)
    near0 = np.abs(rd) < 0.1
    print(
        "  lgamma  max rel err %.1e (scipy.special.gammaln %.1e)  at %s"
        % (el.max(), es.max(), worst(el, xs, n=2))
    )
    print(
        "  digamma max rel err %.1e away from its zero (|psi| > 0.1; scipy.special.psi %.1e); "
        "near x0 = 1.4616 max abs err %.1e (scipy %.1e)"
        % (
            ed[~near0].max(),
            eds[~near0].max(),
            np.abs(dg - rd)[near0].max(),
            np.abs(sc.psi(xs) - rd)[near0].max(),
        )
    )
    return max(el.max(), ed[~near0].max())


# -------------------------------------------------------------------- Gamma

GAMMA_A = [
    1e-3,
    2e-3,
    5e-3,
    0.01,
    0.03,
    0.1,
    0.3,
    0.5,
    0.9,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    8.0,
    13.0,
    20.0,
    30.0,
    45.0,
    49.9,
    50.0,
    70.0,
    100.0,
    200.0,
    500.0,
    1e3,
    3e3,
    1e4,
    3e4,
    1e5,
]
GAMMA_REGIMES = ["S: lower series", "F: continued fraction", "T: Temme expansion"]


def gamma_grid(quick):
    A = np.array(GAMMA_A if not quick else GAMMA_A[::3])
    aa, qq = np.meshgrid(A, QUANTILES, indexing="ij")
    aa, qq = aa.ravel(), qq.ravel()
    xx = sc.gammaincinv(aa, qq)
    keep = xx > 1e-300  # underflowed quantiles (tiny a) are covered by the extremes check
    return aa[keep], qq[keep], xx[keep]


def check_gamma(lib, quick):
    print(
        "\nfs_gamma_dx_dshape(a, x): a in [1e-3, 1e5], x at quantiles 1e-12 .. 1-1e-12, vs mpmath"
    )
    aa, qq, xx = gamma_grid(quick)
    ref = cached(
        "gamma",
        [aa.tolist(), xx.tolist()],
        lambda: {"r": np.array([ref_gamma_point(a, x) for a, x in zip(aa, xx)])},
    )["r"]
    c, reg = c_gamma(lib, aa, xx)
    err = relerr(c, ref)
    mx = report("regime", err, reg, GAMMA_REGIMES, "worst (a, x): " + worst(err, aa, xx))
    return mx, (aa, xx, ref)


# --------------------------------------------------------------------- Beta


def ref_beta_point(a, b, x):
    """(dx/da, dx/db) at 40 digits.  mpmath's betainc (a hypergeometric
    series) takes ~50 s per point at a = b = 1e4, so for min(a, b) >= 1 and
    a + b > 1000 the derivative is taken as the quadrature
    dI/da = int_0^x p(t) (log t - psi(a) + psi(a+b)) dt  (and likewise for b),
    from the side of x away from the mode; both forms agree to 40 digits
    where both run (checked in check_beta)."""
    m = mp()
    if min(a, b) >= 1 and a + b > 1000:
        return ref_beta_quad(a, b, x)
    a, b, x = m.mpf(a), m.mpf(b), m.mpf(x)
    # above the mean differentiate the upper function 1 - I (I may be 1 to 40 digits there)
    if x > a / (a + b):
        F = lambda s, t: -m.betainc(s, t, x, 1, regularized=True)  # I - 1
    else:
        F = lambda s, t: m.betainc(s, t, 0, x, regularized=True)
    da = m.diff(lambda s: F(s, b), a)
    db = m.diff(lambda t: F(a, t), b)
    logp = (a - 1) * m.log(x) + (b - 1) * m.log1p(-x) - m.log(m.beta(a, b))
    p = m.exp(logp)
    return float(-da / p), float(-db / p)


def ref_beta_quad(a, b, x):
    m = mp()
    a, b, x = m.mpf(a), m.mpf(b), m.mpf(x)
    dab = m.digamma(a + b)
    ga, gb = m.digamma(a) - dab, m.digamma(b) - dab
    mode = (a - 1) / (a + b - 2) if a > 1 and b > 1 else m.mpf(0.5)
    s = m.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    if x <= mode:
        # int_0^x in t; p(t)/p(x) formed in logs
        lx, ly = m.log(x), m.log1p(-x)
        w = lambda t: m.exp((a - 1) * (m.log(t) - lx) + (b - 1) * (m.log1p(-t) - ly))
        fa = lambda t: w(t) * (m.log(t) - ga)
        fb = lambda t: w(t) * (m.log1p(-t) - gb)
        lo, hi, c, sgn = m.mpf(0), x, x, -1
        peaks = [mode + k * s for k in (-40, -20, -10, -5, -2, 0, 2, 5, 10, 20, 40)]
    else:
        # -int_x^1 written in y = 1 - t, so that 1 - t is exact near t = 1
        y0 = 1 - x
        lx, ly = m.log(x), m.log(y0)
        w = lambda y: m.exp((a - 1) * (m.log1p(-y) - lx) + (b - 1) * (m.log(y) - ly))
        fa = lambda y: w(y) * (m.log1p(-y) - ga)
        fb = lambda y: w(y) * (m.log(y) - gb)
        lo, hi, c, sgn = m.mpf(0), y0, y0, 1
        peaks = [1 - mode + k * s for k in (-40, -20, -10, -5, -2, 0, 2, 5, 10, 20, 40)]
    pts = [lo, hi] + peaks + [c + k * s for k in (-3, -1, -0.3, 0.3, 1, 3)]
    pts = sorted(set(p for p in pts if lo <= p <= hi))
    return float(sgn * m.quad(fa, pts)), float(sgn * m.quad(fb, pts))


BETA_P = [0.01, 0.03, 0.1, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4]
BETA_Q = [1e-12, 1e-8, 1e-4, 1e-2, 0.1, 0.3, 0.5, 0.7, 0.9, 1 - 1e-2, 1 - 1e-4, 1 - 1e-8, 1 - 1e-12]
BETA_REGIMES = ["direct CF, I_x(a, b)", "swapped CF, I_(1-x)(b, a)", "edge (x = 0 or 1)"]


def beta_grid(quick):
    P = np.array(BETA_P if not quick else BETA_P[::2])
    aa, bb, qq = np.meshgrid(P, P, np.array(BETA_Q), indexing="ij")
    aa, bb, qq = aa.ravel(), bb.ravel(), qq.ravel()
    xx = sc.betaincinv(aa, bb, qq)
    keep = (xx > 1e-300) & (xx < 1.0)  # quantiles that rounded to an end are checked as extremes
    return aa[keep], bb[keep], xx[keep]


def check_beta(lib, quick):
    print(
        "\nfs_beta_dx_dab(a, b, x): a, b in [1e-2, 1e4], x at quantiles 1e-12 .. 1-1e-12, vs mpmath"
    )
    aa, bb, xx = beta_grid(quick)

    def compute():
        r = np.array([ref_beta_point(a, b, x) for a, b, x in zip(aa, bb, xx)])
        return {"da": r[:, 0], "db": r[:, 1]}

    ref = cached("beta", [aa.tolist(), bb.tolist(), xx.tolist()], compute)
    da, db, reg = c_beta(lib, aa, bb, xx)
    e = np.maximum(relerr(da, ref["da"]), relerr(db, ref["db"]))
    mx = report(
        "regime (max over dx/da, dx/db)",
        e,
        reg,
        BETA_REGIMES,
        "worst (a, b, x): " + worst(e, aa, bb, xx),
    )
    # the two reference forms agree where both run
    m = mp()
    pts = [(1e3, 1e3, 0.5), (1e3, 30.0, 0.97), (2e3, 2.0, 0.9995)]
    dev = 0.0
    for a, b, x in pts:
        q = ref_beta_quad(a, b, x)
        a_, b_, x_ = m.mpf(a), m.mpf(b), m.mpf(x)
        F = lambda s, t: m.betainc(s, t, 0, x_, regularized=True)
        p = m.exp((a_ - 1) * m.log(x_) + (b_ - 1) * m.log1p(-x_) - m.log(m.beta(a_, b_)))
        d = (float(-m.diff(lambda s: F(s, b_), a_) / p), float(-m.diff(lambda t: F(a_, t), b_) / p))
        dev = max(dev, abs(q[0] / d[0] - 1), abs(q[1] / d[1] - 1))
    print(
        "    reference cross-check, quadrature vs mpmath.betainc derivative at %d points: "
        "max rel dev %.1e"
        % (len(pts), dev)
    )
    return mx, (aa, bb, xx, ref["da"], ref["db"])


# ---------------------------------------------------------------- von Mises


def ref_vm_point(k, x):
    """dx/dk at 40 digits as the integral of the header's derivation,
    -int_0^x e^(k (cos t - cos x)) (cos t - A) dt (or its x..pi form),
    taken on the side where the integrand has one sign; breakpoints at the
    integrand's decay scale 1/(k sin x + sqrt k).  x is taken as the exact
    double it is (so pi - x includes pi - double(pi))."""
    m = mp()
    k, x = m.mpf(k), m.mpf(x)
    sgn = 1
    if x < 0:
        x, sgn = -x, -1
    if x == 0:
        return 0.0
    A = m.besseli(1, k) / m.besseli(0, k)
    g = lambda t: m.exp(k * (m.cos(t) - m.cos(x))) * (m.cos(t) - A)
    sc_ = 1 / (k * m.sin(x) + m.sqrt(k))
    if m.cos(x) >= A:
        pts = sorted(
            set(
                [m.mpf(0), x]
                + [t for t in (x - 60 * sc_, x - 20 * sc_, x - 5 * sc_, x - sc_) if 0 < t < x]
            )
        )
        return sgn * float(-m.quad(g, pts))
    pts = sorted(
        set(
            [x, +m.pi] + [t for t in (x + sc_, x + 5 * sc_, x + 20 * sc_, x + 60 * sc_) if t < m.pi]
        )
    )
    return sgn * float(m.quad(g, pts))


def ref_vm_cdf_diff(k, x):
    """the same from the definition: -(dF/dk)/p with F by quadrature of the density"""
    m = mp()
    k, x = m.mpf(k), m.mpf(x)
    F = lambda kk: (
        m.quad(lambda t: m.exp(kk * (m.cos(t) - 1)), [-m.pi, 0, x])
        / (2 * m.pi * m.besseli(0, kk) * m.exp(-kk))
    )
    p = m.exp(k * (m.cos(x) - 1)) / (2 * m.pi * m.besseli(0, k) * m.exp(-k))
    return float(-m.diff(F, k) / p)


VM_K = [
    1e-3,
    0.01,
    0.1,
    0.5,
    1.0,
    2.0,
    3.0,
    5.0,
    8.0,
    10.0,
    15.0,
    20.0,
    25.0,
    40.0,
    60.0,
    100.0,
    300.0,
    1e3,
    3e3,
    1e4,
    1e5,
]
VM_REGIMES = [
    "C: centre series",
    "Q: tail Gauss-Legendre",
    "E: tail expansion (erfcx)",
    "W: far tail, Watson",
    "edge (x = 0)",
]


def vm_grid(quick):
    import scipy.stats as st

    K = np.array(VM_K if not quick else VM_K[::3])
    kk, xx = [], []
    for k in K:
        x = st.vonmises.ppf(QUANTILES, k)
        x = x[np.isfinite(x) & (np.abs(x) <= np.pi)]
        kk += [k] * len(x)
        xx += list(x)
    return np.array(kk), np.array(xx)


def check_vonmises(lib, quick):
    print(
        "\nfs_vonmises_dx_dconc(k, x): k in [1e-3, 1e5], x at quantiles 1e-12 .. 1-1e-12, vs mpmath"
    )
    kk, xx = vm_grid(quick)
    ref = cached(
        "vonmises",
        [kk.tolist(), xx.tolist()],
        lambda: {"r": np.array([ref_vm_point(k, x) for k, x in zip(kk, xx)])},
    )["r"]
    c, reg = c_vm(lib, kk, xx)
    err = relerr(c, ref)
    err[(ref == 0) & (c == 0)] = 0.0
    mx = report("regime", err, reg, VM_REGIMES, "worst (k, x): " + worst(err, kk, xx))
    # the far tails beyond the quantile grid: x up to pi, k up to 1e5
    kt = np.repeat([3.0, 20.0, 50.0, 300.0, 1e5], 6)
    xt = np.tile([1.0, 2.0, 2.5, 3.0, 3.14, np.pi - 1e-7], 5)
    rt = cached(
        "vonmises_tail",
        [kt.tolist(), xt.tolist()],
        lambda: {"r": np.array([ref_vm_point(k, x) for k, x in zip(kt, xt)])},
    )["r"]
    ct, regt = c_vm(lib, kt, xt)
    et = relerr(ct, rt)
    report(
        "far tails (x in [1, pi - 1e-7])",
        et,
        regt,
        VM_REGIMES,
        "worst (k, x): " + worst(et, kt, xt),
    )
    pts = [(0.5, 2.0), (5.0, 1.0), (30.0, 0.3), (300.0, 0.05)]
    dev = max(abs(ref_vm_point(k, x) / ref_vm_cdf_diff(k, x) - 1) for k, x in pts)
    print(
        "    reference cross-check, integral form vs -(d/dk F)/p with F by quadrature, "
        "%d points: max rel dev %.1e"
        % (len(pts), dev)
    )
    return mx, (kk, xx, ref)


# -------------------------------------- random points and regime boundaries


def check_random_and_boundaries(lib, quick):
    """Seeded random (parameter, quantile) points, log-uniform parameters and
    quantiles uniform in logit between 1e-12 and 1 - 1e-12; and points just
    either side of every regime boundary (the dispatch thresholds), all
    against mpmath."""
    import scipy.stats as st

    rng = np.random.default_rng(7)
    nr = 150 if quick else 600
    print(
        "\nrandom points (%d per function) and both sides of every regime boundary, vs mpmath" % nr
    )
    u = lambda n: 1.0 / (1.0 + np.exp(-rng.uniform(-27.6, 27.6, n)))
    worst_all = 0.0
    # Gamma
    a = np.exp(rng.uniform(np.log(1e-3), np.log(1e5), nr))
    x = sc.gammaincinv(a, u(nr))
    ba, bx = [], []
    for aa in (0.01, 0.7, 3.0, 20.0, 49.0):
        for xb in (2.5, aa + 1.5 * np.sqrt(aa)):
            for f in (1 - 1e-12, 1 + 1e-12):
                ba.append(aa), bx.append(xb * f)
    for aa in (50.0, 50.0 * (1 + 1e-12), 300.0, 1e4):
        for eta in (-1.0, 1.0):
            lam = (
                __import__("scipy.optimize", fromlist=["brentq"]).brentq(
                    lambda l: l - 1 - np.log(l) - 0.5, 1e-3, 1.0
                )
                if eta < 0
                else __import__("scipy.optimize", fromlist=["brentq"]).brentq(
                    lambda l: l - 1 - np.log(l) - 0.5, 1.0, 10.0
                )
            )
            for f in (1 - 1e-9, 1 + 1e-9):
                ba.append(aa), bx.append(aa * lam * f)
    for xx in (60.0, 40.0):
        ba.append(50.0 * (1 - 1e-15)), bx.append(xx)
    a = np.concatenate([a, ba])
    x = np.concatenate([x, bx])
    keep = x > 1e-300
    a, x = a[keep], x[keep]
    ref = cached(
        "gamma_random",
        [a.tolist(), x.tolist()],
        lambda: {"r": np.array([ref_gamma_point(p, q) for p, q in zip(a, x)])},
    )["r"]
    c, reg = c_gamma(lib, a, x)
    e = relerr(c, ref)
    nb = len(bx)
    print(
        "  gamma     random %.1e   boundaries %.1e   (worst %s)"
        % (np.nanmax(e[:-nb]) if e.size > nb else 0, np.nanmax(e[-nb:]), worst(e, a, x, n=1))
    )
    worst_all = max(worst_all, np.nanmax(e) if np.isfinite(e).all() else np.inf)
    if lib.have_beta:
        nrb = nr // 2
        a = np.exp(rng.uniform(np.log(1e-2), np.log(1e4), nrb))
        b = np.exp(rng.uniform(np.log(1e-2), np.log(1e4), nrb))
        x = sc.betaincinv(a, b, u(nrb))
        ba, bb, bx = [], [], []
        for aa, bbb in ((0.3, 2.0), (5.0, 5.0), (200.0, 30.0), (0.05, 800.0)):
            xm = (aa + 1) / (aa + bbb + 2)
            for f in (1 - 1e-12, 1 + 1e-12):
                ba.append(aa), bb.append(bbb), bx.append(xm * f)
        a, b, x = np.concatenate([a, ba]), np.concatenate([b, bb]), np.concatenate([x, bx])
        keep = (x > 1e-300) & (x < 1)
        a, b, x = a[keep], b[keep], x[keep]
        r = cached(
            "beta_random",
            [a.tolist(), b.tolist(), x.tolist()],
            lambda: dict(
                zip(("da", "db"), np.array([ref_beta_point(p, q, z) for p, q, z in zip(a, b, x)]).T)
            ),
        )
        da, db, _ = c_beta(lib, a, b, x)
        e = np.maximum(relerr(da, r["da"]), relerr(db, r["db"]))
        nb = len(bx)
        print(
            "  beta      random %.1e   boundaries %.1e   (worst %s)"
            % (np.nanmax(e[:-nb]), np.nanmax(e[-nb:]), worst(e, a, b, x, n=1))
        )
        worst_all = max(worst_all, np.nanmax(e) if np.isfinite(e).all() else np.inf)
    if lib.have_vm:
        k = np.exp(rng.uniform(np.log(1e-3), np.log(1e5), nr))
        x = np.array([st.vonmises.ppf(q, kk) for q, kk in zip(u(nr), k)])
        bk, bxs = [], []
        for kk in (0.3, 5.0, 19.0, 20.0, 20.0 * (1 - 1e-12), 60.0, 1e3):
            A = sc.ive(1, kk) / sc.ive(0, kk)
            xs = [2 * np.arcsin(np.sqrt((1 - A) / 2))]  # centre | tail
            if kk > 20:
                xs.append(2 * np.arccos(np.sqrt(40.0 / (2 * kk))))  # R = 40
            xs.append(np.pi / 2)  # expansion | Watson
            for xb in xs:
                for f in (1 - 1e-9, 1 + 1e-9):
                    bk.append(kk), bxs.append(xb * f)
        k, x = np.concatenate([k, bk]), np.concatenate([x, bxs])
        keep = np.isfinite(x) & (np.abs(x) <= np.pi) & (x != 0)
        k, x = k[keep], x[keep]
        ref = cached(
            "vm_random",
            [k.tolist(), x.tolist()],
            lambda: {"r": np.array([ref_vm_point(p, q) for p, q in zip(k, x)])},
        )["r"]
        c, _ = c_vm(lib, k, x)
        e = relerr(c, ref)
        nb = len(bxs)
        print(
            "  vonmises  random %.1e   boundaries %.1e   (worst %s)"
            % (np.nanmax(e[:-nb]), np.nanmax(e[-nb:]), worst(e, k, x, n=1))
        )
        worst_all = max(worst_all, np.nanmax(e) if np.isfinite(e).all() else np.inf)
    return worst_all


# ------------------------------------------------- the NumPy/SciPy twins


def load_ref_module():
    sys.path.insert(0, ROOT)
    try:
        import importlib.util

        spec = importlib.util.spec_from_file_location(
            "fastscore_implicit_ref", os.path.join(ROOT, "fastscore", "_implicit_ref.py")
        )
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.pop(0)


def check_twins(lib, grids):
    print(
        "\nfastscore/_implicit_ref.py (NumPy/SciPy twins) on the same grids: "
        "vs mpmath, and vs the C functions"
    )
    R = load_ref_module()
    res = {}
    if "gamma" in grids:
        aa, xx, ref = grids["gamma"]
        t0 = time.time()
        tw = R.gamma_dx_dshape(aa, xx)
        dt = time.time() - t0
        c, _ = c_gamma(lib, aa, xx)
        e1, e2 = relerr(tw, ref), relerr(tw, c)
        print(
            "  gamma_dx_dshape      vs mpmath %.1e   vs C %.1e   (%.0f us per value)"
            % (np.nanmax(e1), np.nanmax(e2), 1e6 * dt / aa.size)
        )
        res["gamma"] = float(np.nanmax(e1))
    if "beta" in grids:
        aa, bb, xx, rda, rdb = grids["beta"]
        t0 = time.time()
        ta, tb = R.beta_dx_dab(aa, bb, xx)
        dt = time.time() - t0
        ca, cb, _ = c_beta(lib, aa, bb, xx)
        e1 = np.maximum(relerr(ta, rda), relerr(tb, rdb))
        e2 = np.maximum(relerr(ta, ca), relerr(tb, cb))
        print(
            "  beta_dx_dab          vs mpmath %.1e   vs C %.1e   (%.0f us per value)"
            % (np.nanmax(e1), np.nanmax(e2), 1e6 * dt / aa.size)
        )
        res["beta"] = float(np.nanmax(e1))
    if "vonmises" in grids:
        kk, xx, ref = grids["vonmises"]
        t0 = time.time()
        tw = R.vonmises_dx_dconc(kk, xx)
        dt = time.time() - t0
        c, _ = c_vm(lib, kk, xx)
        e1, e2 = relerr(tw, ref), relerr(tw, c)
        e1[(tw == 0) & (ref == 0)] = 0
        e2[(tw == 0) & (c == 0)] = 0
        print(
            "  vonmises_dx_dconc    vs mpmath %.1e   vs C %.1e   (%.0f us per value)"
            % (np.nanmax(e1), np.nanmax(e2), 1e6 * dt / kk.size)
        )
        res["vonmises"] = float(np.nanmax(e1))
    return res


def fourier_vm(k, x, nterms=None):
    """dx/dk from the Fourier series of the CDF (the textbook method, for comparison):
    dF/dk = (1/pi) sum_n r_n' sin(n x) / n, r_n = I_n/I_0,
    r_n' = (r_(n-1) + r_(n+1))/2 - r_n r_1."""
    k, x = float(k), np.asarray(x, float)
    N = nterms or int(20 + 12 * np.sqrt(k))
    n = np.arange(0, N + 2)
    r = sc.ive(n, k) / sc.ive(0, k)
    rp = 0.5 * (r[:-2] + r[2:]) - r[1:-1] * r[1]  # n = 1..N
    nn = n[1:-1]
    dF = (rp[None, :] * np.sin(np.outer(x, nn)) / nn[None, :]).sum(axis=1) / np.pi
    p = np.exp(k * (np.cos(x) - 1.0)) / (2 * np.pi * sc.i0e(k))
    return -dF / p


def check_fourier(grids):
    if "vonmises" not in grids:
        return
    kk, xx, ref = grids["vonmises"]
    print(
        "\nfor comparison, the Fourier-series CDF (Bessel ratios from scipy.special.ive, "
        "20 + 12 sqrt(k) terms):"
    )
    for k in (0.5, 2.0, 5.0, 10.0, 20.0, 40.0, 100.0):
        m = kk == k
        if not m.any():
            continue
        e = relerr(fourier_vm(k, xx[m]), ref[m])
        e[ref[m] == 0] = 0
        print("  k = %-6g max rel err over the quantile grid %.1e" % (k, np.nanmax(e)))


# ------------------------------------------------------------------ threads


def check_threads(lib):
    """the functions called from an OpenMP parallel loop give the serial results bit for bit"""
    if not hasattr(lib, "x_all_omp"):
        print("\nthreads: the compiler has no OpenMP, not checked")
        return True
    rng = np.random.default_rng(3)
    n = 200_000
    p1 = np.exp(rng.uniform(np.log(1e-3), np.log(1e4), n))
    p2 = np.exp(rng.uniform(np.log(1e-3), np.log(1e4), n))
    p3 = rng.uniform(0.0, 1.0, n)
    o = [np.empty(n) for _ in range(3)]
    lib.x_all_omp(ptr(p1), ptr(p2), ptr(p3), ptr(o[0]), ptr(o[1]), ptr(o[2]), ctypes.c_long(n))
    g, _ = c_gamma(lib, p1, p2)
    same = np.array_equal(g, o[0], equal_nan=True)
    if lib.have_beta:
        da, db, _ = c_beta(lib, p1, p2, p3)
        v = c_vm(lib, p1, p3 * 3.0)[0] if lib.have_vm else 0.0
        same &= np.array_equal(da, o[1], equal_nan=True) and np.array_equal(
            db + v, o[2], equal_nan=True
        )
    threads = os.environ.get("OMP_NUM_THREADS", str(os.cpu_count()))
    print(
        "\nthreads: %d calls of each function from an OpenMP loop (%s threads) "
        "equal the serial ones bit for bit: %s"
        % (n, threads, same)
    )
    return bool(same)


# ------------------------------------------------------- Monte-Carlo checks


def zline(name, vals, expect):
    m, se = vals.mean(), vals.std(ddof=1) / np.sqrt(vals.size)
    z = (m - expect) / se if se > 0 else 0.0
    print("    %-46s mean %+.6e  exact %+.6e  z = %+5.2f" % (name, m, expect, z))
    return abs(z)


def check_mc(lib, quick):
    n = 50_000 if quick else 400_000
    rng = np.random.default_rng(20261201)
    print(
        "\nMonte-Carlo identities (n = %d per line, numpy samplers; |z| should be of order 1)" % n
    )
    zs = []
    for a in (1e-3, 0.1, 1.0, 7.5, 300.0, 1e5):
        x = rng.gamma(a, size=n)
        d, _ = c_gamma(lib, np.full(n, a), x)
        zs.append(zline("Gamma(%g): E[dx/da] = 1" % a, d, 1.0))
        zs.append(zline("Gamma(%g): E[2 x dx/da] = 2a + 1" % a, 2 * x * d, 2 * a + 1))
    for a, b in ((0.05, 0.05), (0.5, 2.0), (3.0, 3.0), (50.0, 0.3), (2e3, 5e3)):
        x = rng.beta(a, b, size=n)
        da, db, _ = c_beta(lib, np.full(n, a), np.full(n, b), x)
        zs.append(zline("Beta(%g, %g): E[dx/da] = b/(a+b)^2" % (a, b), da, b / (a + b) ** 2))
        zs.append(zline("Beta(%g, %g): E[dx/db] = -a/(a+b)^2" % (a, b), db, -a / (a + b) ** 2))
    for k in (0.01, 1.0, 4.0, 30.0, 1e3):
        x = rng.vonmises(0.0, k, size=n)
        d, _ = c_vm(lib, np.full(n, k), x)
        A = sc.ive(1, k) / sc.ive(0, k)
        zs.append(
            zline("VonMises(%g): E[-sin x dx/dk] = dA/dk" % k, -np.sin(x) * d, 1 - A / k - A * A)
        )
    print("    max |z| over %d lines: %.2f" % (len(zs), max(zs)))
    return max(zs)


# ---------------------------------------------------------------- extremes


def check_extremes(lib):
    print("\nextreme inputs: every result finite (or inf where x = inf) and of the right sign")
    bad = []
    A = np.array([1e-300, 1e-8, 1e-3, 1.0, 49.999, 50.0, 1e5, 1e8, 1e15])
    X = np.array([0.0, 5e-324, 1e-310, 1e-300, 1e-10, 1.0, 60.0, 1e3, 1e5, 1e8, 1e300, np.inf])
    aa, xx = [v.ravel() for v in np.meshgrid(A, X)]
    d, _ = c_gamma(lib, aa, xx)
    okg = (np.isfinite(d) | ((xx == np.inf) & (d == np.inf))) & (d >= 0)
    bad += [("gamma", a, x, v) for a, x, v, o in zip(aa, xx, d, okg) if not o]
    print(
        "  gamma: %d inputs (a in [1e-300, 1e15], x in [0, inf]), %d bad" % (aa.size, (~okg).sum())
    )
    # below ~1e-15 the Beta brackets, which are O(shape), cancel from O(1) parts
    P = np.array([1e-15, 1e-6, 1e-2, 1.0, 1e4, 1e7])
    Xb = np.array([0.0, 5e-324, 1e-300, 1e-20, 1e-3, 0.5, 1 - 1e-10, 1 - 2**-53, 1.0])
    aa, bb, xx = [v.ravel() for v in np.meshgrid(P, P, Xb)]
    da, db, _ = c_beta(lib, aa, bb, xx)
    okb = np.isfinite(da) & np.isfinite(db) & (da >= 0) & (db <= 0)
    bad += [("beta", a, b, x, u, v) for a, b, x, u, v, o in zip(aa, bb, xx, da, db, okb) if not o]
    print(
        "  beta:  %d inputs (a, b in [1e-15, 1e7], x in [0, 1]), %d bad" % (aa.size, (~okb).sum())
    )
    K = np.array([0.0, 1e-300, 1e-10, 1e-3, 1.0, 19.999, 20.0, 1e3, 1e8, 1e15])
    Xv = np.array([-np.pi, -3.0, -1.0, -1e-300, 0.0, 5e-324, 1e-8, 0.5, 1.5, 2.5, 3.1, np.pi])
    kk, xx = [v.ravel() for v in np.meshgrid(K, Xv)]
    d, _ = c_vm(lib, kk, xx)
    okv = np.isfinite(d) & (d * np.sign(xx) <= 0)
    bad += [("vm", k, x, v) for k, x, v, o in zip(kk, xx, d, okv) if not o]
    print(
        "  vonmises: %d inputs (k in [0, 1e15], x in [-pi, pi]), %d bad" % (kk.size, (~okv).sum())
    )
    # accuracy, not only finiteness, at shapes far below the specified range
    eg = [
        abs(c_gamma(lib, [a], [x])[0][0] / ref_gamma_point(a, x) - 1)
        for a in (1e-15, 1e-8, 1e-5)
        for x in (1e-300, 1e-20, 0.5, 5.0, 40.0)
    ]
    eb = []
    for a, b in ((1e-8, 0.5), (0.5, 1e-8), (1e-5, 1e-5)):
        for x in (1e-20, 1e-3, 0.5, 0.999):
            da, db, _ = c_beta(lib, [a], [b], [x])
            r = ref_beta_point(a, b, x)
            eb.append(max(abs(da[0] / r[0] - 1), abs(db[0] / r[1] - 1)))
    print(
        "  max rel err vs mpmath at tiny shapes: gamma (a = 1e-15..1e-5, x = 1e-300..40) %.1e, "
        "beta (one shape 1e-8 or both 1e-5) %.1e" % (max(eg), max(eb))
    )
    inv = [
        c_gamma(lib, [-1.0, np.nan, 1.0], [1.0, 1.0, -1.0])[0],
        c_vm(lib, [-1.0, 1.0, np.inf], [1.0, 4.0, 1.0])[0],
        c_beta(lib, [-1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.5, 1.5, np.nan])[0],
    ]
    print("  invalid parameters or x give NaN: %s" % all(np.isnan(v).all() for v in inv))
    for b in bad[:10]:
        print("    BAD", b)
    return len(bad) == 0 and all(np.isnan(v).all() for v in inv)


# -------------------------------------------------------------------- speed


def bench_time(fn, args, target_s=0.05, rounds=7):
    n = args[0].size
    reps = 1
    while True:
        t = fn(*[ptr(a) for a in args], ctypes.c_long(n), ctypes.c_long(reps)) * n * reps * 1e-9
        if t > target_s or reps > 1 << 20:
            break
        reps *= 2
    ts = [fn(*[ptr(a) for a in args], ctypes.c_long(n), ctypes.c_long(reps)) for _ in range(rounds)]
    return "%5.0f (%5.0f)" % (np.median(ts), np.min(ts))


def check_speed(lib, grids):
    print(
        "\nns per call, median (min) of 7 rounds; inputs of each regime from the accuracy grids, "
        "called in turn;"
        "\nthe min is the better estimate on a loaded machine (load average now %.1f)"
        % os.getloadavg()[0]
    )
    if "gamma" in grids:
        aa, xx, _ = grids["gamma"]
        _, reg = c_gamma(lib, aa, xx)
        for r, nm in enumerate(GAMMA_REGIMES):
            m = reg == r
            if m.any():
                print(
                    "  gamma  %-28s %s ns  (%d inputs)"
                    % (
                        nm,
                        bench_time(
                            lib.t_gamma, [np.ascontiguousarray(aa[m]), np.ascontiguousarray(xx[m])]
                        ),
                        m.sum(),
                    )
                )
        for a in (0.01, 1.0, 30.0, 1e3, 1e5):
            m = aa == a
            print(
                "  gamma  a = %-24g %s ns  (its quantile grid)"
                % (
                    a,
                    bench_time(
                        lib.t_gamma, [np.ascontiguousarray(aa[m]), np.ascontiguousarray(xx[m])]
                    ),
                )
            )
    if "beta" in grids:
        aa, bb, xx = grids["beta"][:3]
        _, _, reg = c_beta(lib, aa, bb, xx)
        for r, nm in enumerate(BETA_REGIMES[:2]):
            m = reg == r
            print(
                "  beta   %-28s %s ns  (%d inputs)"
                % (
                    nm,
                    bench_time(lib.t_beta, [np.ascontiguousarray(v[m]) for v in (aa, bb, xx)]),
                    m.sum(),
                )
            )
        for a, b in (
            (0.01, 0.01),
            (1.0, 1.0),
            (10.0, 10.0),
            (100.0, 100.0),
            (1e3, 1e3),
            (1e4, 1e4),
            (1e4, 0.01),
            (1e4, 10.0),
        ):
            m = (aa == a) & (bb == b)
            print(
                "  beta   a = %-7g b = %-12g %s ns  (its quantile grid)"
                % (a, b, bench_time(lib.t_beta, [np.ascontiguousarray(v[m]) for v in (aa, bb, xx)]))
            )
    if "vonmises" in grids:
        kk, xx, _ = grids["vonmises"]
        _, reg = c_vm(lib, kk, xx)
        for r, nm in enumerate(VM_REGIMES[:4]):
            m = reg == r
            if m.any():
                print(
                    "  vm     %-28s %s ns  (%d inputs)"
                    % (
                        nm,
                        bench_time(
                            lib.t_vm, [np.ascontiguousarray(kk[m]), np.ascontiguousarray(xx[m])]
                        ),
                        m.sum(),
                    )
                )
        for k in (0.1, 1.0, 10.0, 100.0, 1e3, 1e5):
            m = (kk == k) & (xx != 0)
            print(
                "  vm     k = %-24g %s ns  (its quantile grid)"
                % (
                    k,
                    bench_time(
                        lib.t_vm, [np.ascontiguousarray(kk[m]), np.ascontiguousarray(xx[m])]
                    ),
                )
            )
        rng = np.random.default_rng(1)
        x = rng.vonmises(0.0, 1e3, size=4096)
        print(
            "  vm     k = 1e3, 4096 numpy samples     %s ns"
            % bench_time(lib.t_vm, [np.full(4096, 1e3), np.ascontiguousarray(x)])
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help="thinner grids and fewer Monte-Carlo samples"
    )
    ap.add_argument("--no-bench", action="store_true", help="skip the timings")
    ap.add_argument(
        "--only",
        default="tables,lgamma,gamma,beta,vonmises,random,twins,mc,extremes,threads",
        help="comma-separated subset of "
        "tables,lgamma,gamma,beta,vonmises,random,twins,mc,extremes,threads",
    )
    args = ap.parse_args()
    only = set(args.only.split(","))
    lib = build()
    ok = True
    grids = {}
    if "tables" in only:
        ok &= check_tables()
    if "lgamma" in only:
        ok &= check_lgamma(lib, args.quick) < 1e-14
    if "gamma" in only:
        mx, grids["gamma"] = check_gamma(lib, args.quick)
        ok &= mx < 1e-10
    if "beta" in only:
        mx, grids["beta"] = check_beta(lib, args.quick)
        ok &= mx < 1e-9
    if "vonmises" in only:
        mx, grids["vonmises"] = check_vonmises(lib, args.quick)
        ok &= mx < 1e-10
        check_fourier(grids)
    if "random" in only:
        ok &= check_random_and_boundaries(lib, args.quick) < 1e-9
    if "twins" in only:
        tw = check_twins(lib, grids)
        ok &= all(v < 1e-9 for v in tw.values())
    if "mc" in only:
        ok &= check_mc(lib, args.quick) < 5.0
    if "extremes" in only:
        ok &= check_extremes(lib)
    if "threads" in only:
        ok &= check_threads(lib)
    if not args.no_bench:
        check_speed(lib, grids)
    print("\n%s" % ("all checks passed" if ok else "SOME CHECKS FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
