"""Generate the 256-level ziggurat tables of numpy's normal and exponential
samplers, as a C header (``_ziggurat_tables.h``) for ``_samplers.h``.

Run at build time::

    python fastscore/_gen_ziggurat.py OUT.h

The tables are not copied from numpy: they are rebuilt here from the
ziggurat construction of Marsaglia & Tsang (2000) with numpy's two
constants per distribution (the tail start r and, for the normal, the area V
of one level), reproducing the arithmetic with which numpy's own figures
were computed.  bench/samplers/check_identity.py proves that the result is
numpy's, byte for byte (the tables appear verbatim in numpy's compiled
``_generator`` module) and draw for draw.

Only the Python standard library is used (``decimal`` gives correctly
rounded exp, ln and sqrt at any precision), so the result does not depend on
the platform's libm.

How numpy's figures were computed (established by rebuilding them):

* Normal (draws of 52 bits, x = rabs * w[i]): the level edges x_i were
  computed in IEEE double arithmetic, x_255 = r, going down by
  x_i = sqrt(-2 log(f(x_{i+1}) + V / x_{i+1})) with f(x) = exp(-0.5 x x),
  and k_i = round(x_{i-1} / x_i * 2^52), w_i = x_i / 2^52, f_i = f(x_i);
  level 0 (base strip plus tail) has k_0 = round(r f(r) / V * 2^52),
  w_0 = V / f(r) / 2^52, f_0 = f(0) = 1.  Every elementary function rounds
  correctly except one: at level 38 the exact exp(-0.5 x_38^2) lies within
  0.0017 ulp of the midpoint between two doubles, and numpy's table holds
  the upper one (the exp its figures were made with was faithful, not
  correctly rounded, there).  Other evaluations are as close to a tie (exp
  at levels 75 and 119, 0.0014 and 0.0017 ulp) and were rounded correctly,
  so no rounding rule explains the exception: it is a fact about that libm,
  named in NEAR_TIES_ROUNDED_AWAY below.  The generator checks that it is a
  near-tie (so it changes the last bit only where either rounding is
  within 0.502 ulp), and the error propagates to the levels below 38
  through the recursion, as it did in numpy's figures.
* Exponential (53-bit draws, x = ri * w[i]): the edges were computed in
  high precision from the decimal r, x_i = -log(V / x_{i+1} + exp(-x_{i+1}))
  with V = r exp(-r) + exp(-r), and rounded once; k_i = 2 floor(x_{i-1} /
  x_i * 2^52) (a 52-bit threshold, doubled), w_i = x_i / 2^53, f_i =
  exp(-x_i); level 0 as for the normal, with f(r) = exp(-r).
"""

import math
import sys
from decimal import ROUND_FLOOR, Decimal, localcontext

LEVELS = 256

# numpy's constants (numpy/random/src/distributions/ziggurat_constants.h and
# the script that produced its normal tables): tail starts and level areas.
# Kept as decimal strings: the exponential edges start from the exact
# decimal r (not its double), the normal ones from the doubles.
NOR_R = "3.6541528853610087963519472518"
NOR_V = "0.0049286732339746519"
EXP_R = "7.6971174701310497140446280481"

# Normal-table evaluations (function, level) whose exact value is a near-tie
# between two doubles and which numpy's figures round to the neighbour away
# from the correctly rounded one; see the module docstring.
NEAR_TIES_ROUNDED_AWAY = {("exp", 38)}
NEAR_TIE_ULPS = 0.01  # "near": within this many ulps of a midpoint

PREC = 60  # decimal digits of the high-precision arithmetic


def _rounded_away(d):
    """The double next to the Decimal d on the side away from its correct
    rounding, checking that d is a near-tie (within NEAR_TIE_ULPS of the
    midpoint of the two), where a faithful libm may return either."""
    x = float(d)  # correctly rounded (decimal -> binary conversion)
    other = math.nextafter(x, math.inf if Decimal(x) <= d else -math.inf)
    lo, hi = sorted((Decimal(x), Decimal(other)))
    if abs(d - (lo + hi) / 2) / (hi - lo) > Decimal(NEAR_TIE_ULPS):
        raise AssertionError("%s is no near-tie" % d)
    return other


def _cr(method, x):
    """method ("exp", "ln", "sqrt") of the double x, correctly rounded."""
    with localcontext() as ctx:
        ctx.prec = PREC
        return getattr(Decimal(x), method)()


def normal_tables():
    """ki (uint64), wi, fi (double) of numpy's normal ziggurat."""

    def exp_d(x, level):
        # exp of a double, correctly rounded but for the listed near-ties
        d = _cr("exp", x)
        return _rounded_away(d) if ("exp", level) in NEAR_TIES_ROUNDED_AWAY else float(d)

    def log_d(x):
        return float(_cr("ln", x))

    def sqrt_d(x):
        return float(_cr("sqrt", x))

    def pdf(x, level):
        return exp_d(-0.5 * x * x, level)  # ((-0.5 * x) * x) in doubles

    r, v = float(NOR_R), float(NOR_V)
    x = [0.0] * LEVELS
    f = [0.0] * LEVELS
    x[LEVELS - 1] = r
    f[LEVELS - 1] = pdf(r, LEVELS - 1)
    for i in range(LEVELS - 2, 0, -1):
        # f(x_{i+1}) is the same evaluation as f_{i+1}: numpy's figures agree
        # on it (the near-tie at level 38 shows in both f_38 and x_37).
        x[i] = sqrt_d(-2.0 * log_d(f[i + 1] + v / x[i + 1]))
        f[i] = pdf(x[i], i)
    f[0] = 1.0  # f(0)
    scale = 2.0 ** 52
    ki = [0] * LEVELS
    for i in range(1, LEVELS):
        ki[i] = _round_half_even(x[i - 1] / x[i] * scale)
    ki[0] = _round_half_even((r * f[LEVELS - 1]) / v * scale)
    wi = [xi / scale for xi in x]
    wi[0] = v / f[LEVELS - 1] / scale
    return ki, wi, f


def _round_half_even(y):
    # numpy's np.round of a double: round half to even (as Python's round).
    return int(round(y))


def exponential_tables():
    """ke (uint64), we, fe (double) of numpy's exponential ziggurat."""
    with localcontext() as ctx:
        ctx.prec = PREC
        r = Decimal(EXP_R)
        v = r * (-r).exp() + (-r).exp()
        x = [Decimal(0)] * LEVELS
        x[LEVELS - 1] = r
        for i in range(LEVELS - 2, 0, -1):
            x[i] = -(v / x[i + 1] + (-x[i + 1]).exp()).ln()
        two52 = Decimal(2) ** 52
        two53 = Decimal(2) ** 53
        ke = [0] * LEVELS
        for i in range(2, LEVELS):
            ke[i] = 2 * _floor_checked(x[i - 1] / x[i] * two52)
        ke[0] = 2 * _floor_checked(r * (-r).exp() / v * two52)
        we = [float(xi / two53) for xi in x]
        we[0] = float(v / (-r).exp() / two53)
        fe = [float((-xi).exp()) for xi in x]
        fe[0] = 1.0
    return ke, we, fe


def _floor_checked(d):
    """floor(d), refusing a d so near an integer that PREC digits could not
    tell its floor."""
    n = int(d.to_integral_value(rounding=ROUND_FLOOR))
    frac = d - n
    if frac < Decimal("1e-25") or 1 - frac < Decimal("1e-25"):
        raise AssertionError("floor of %s is ambiguous at this precision" % d)
    return n


def tables():
    """All six tables and the scalar constants, by their C names."""
    ki, wi, fi = normal_tables()
    ke, we, fe = exponential_tables()
    r = float(NOR_R)
    return {
        "fs_zig_nor_k": ki, "fs_zig_nor_w": wi, "fs_zig_nor_f": fi,
        "fs_zig_exp_k": ke, "fs_zig_exp_w": we, "fs_zig_exp_f": fe,
        "FS_ZIG_NOR_R": r,
        "FS_ZIG_NOR_INV_R": 1.0 / r,  # numpy's literal is this double
        "FS_ZIG_EXP_R": float(EXP_R),
    }


def header():
    t = tables()
    out = [
        "/* Generated by fastscore/_gen_ziggurat.py: do not edit, do not commit.",
        " * numpy's 256-level ziggurat tables, rebuilt from the construction;",
        " * doubles are written as exact hexadecimal literals. */",
        "#ifndef FASTSCORE_ZIGGURAT_TABLES_H",
        "#define FASTSCORE_ZIGGURAT_TABLES_H",
        "#include <stdint.h>",
        "",
    ]
    for name in ("FS_ZIG_NOR_R", "FS_ZIG_NOR_INV_R", "FS_ZIG_EXP_R"):
        out.append("#define %s (%s) /* %r */" % (name, t[name].hex(), t[name]))
    out.append("")
    for name in ("fs_zig_nor_k", "fs_zig_nor_w", "fs_zig_nor_f",
                 "fs_zig_exp_k", "fs_zig_exp_w", "fs_zig_exp_f"):
        vals = t[name]
        if name.endswith("_k"):
            items = ["0x%016XULL" % v for v in vals]
            ctype = "uint64_t"
        else:
            items = [v.hex() for v in vals]
            ctype = "double"
        out.append("static const %s %s[%d] = {" % (ctype, name, LEVELS))
        for j in range(0, LEVELS, 4):
            out.append("    " + ", ".join(items[j:j + 4]) + ",")
        out.append("};")
        out.append("")
    out.append("#endif /* FASTSCORE_ZIGGURAT_TABLES_H */")
    return "\n".join(out) + "\n"


def write(path):
    """Write the header to path unless it already holds the same text."""
    text = header()
    try:
        with open(path, encoding="ascii") as fh:
            if fh.read() == text:
                return
    except OSError:
        pass
    with open(path, "w", encoding="ascii") as fh:
        fh.write(text)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: _gen_ziggurat.py OUT.h")
    write(sys.argv[1])
