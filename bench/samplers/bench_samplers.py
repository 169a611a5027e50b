"""ns per draw of fastscore's inline samplers vs numpy's Generator(Philox).

    python bench/samplers/bench_samplers.py [--n N] [--rounds R] [--isa all|portable|avx2|avx512]

All draw the same values from the same streams (checked before timing):
numpy through Generator(Philox(key, counter)).<method>(..., out=) or size=;
"kernels" through numpy's C samplers on fs_stream behind a bitgen_t, as
fastscore's kernels drew before the inline samplers; ours through the
harness's block fills.  Both of the latter draw 256 values per block into a
stack buffer and copy them out, as the kernels do.  One process, one
thread, rounds interleaved (numpy, ours, numpy, ours, ...) so that clock and
cache drift hit both alike; each figure is the median over rounds of one
call drawing N values.  Time is the calling thread's CPU time
(time.thread_time, or wall time with --wall): on a machine shared with other
work, time slices given to other processes then count for neither side.
The issue-13 goals are printed beside the ratios.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import build  # noqa: E402

KEY = np.array([0x9E3779B97F4A7C15, 0x0123456789ABCDEF], dtype=np.uint64)
COUNTER = np.array([0, 0, 5, 2], dtype=np.uint64)

# (label, our family and parameters, numpy call on a Generator g with output
# array out, goal speed-up or None)
CASES = [
    ("uniform", ("uniform",), lambda g, out: g.random(out=out), None),
    ("standard_normal", ("standard_normal",), lambda g, out: g.standard_normal(out=out), 2.0),
    ("normal(1, 2)", ("normal", 1.0, 2.0), lambda g, out: g.normal(1.0, 2.0, size=out.size), 2.0),
    ("lognormal(0, .5)", ("lognormal", 0.0, 0.5), lambda g, out: g.lognormal(0.0, 0.5, size=out.size), None),
    ("standard_exponential", ("standard_exponential",),
     lambda g, out: g.standard_exponential(out=out), 1.2),
    ("exponential(2)", ("exponential", 2.0), lambda g, out: g.exponential(2.0, size=out.size), 1.2),
    ("standard_gamma(2.5)", ("standard_gamma", 2.5),
     lambda g, out: g.standard_gamma(2.5, out=out), 1.4),
    ("standard_gamma(0.5)", ("standard_gamma", 0.5),
     lambda g, out: g.standard_gamma(0.5, out=out), 1.4),
    ("gamma(4, 0.5)", ("gamma", 4.0, 0.5), lambda g, out: g.gamma(4.0, 0.5, size=out.size), 1.4),
    ("beta(2, 3)", ("beta", 2.0, 3.0), lambda g, out: g.beta(2.0, 3.0, size=out.size), None),
    ("beta(.5, .5)", ("beta", 0.5, 0.5), lambda g, out: g.beta(0.5, 0.5, size=out.size), None),
    ("chisquare(3)", ("chisquare", 3.0), lambda g, out: g.chisquare(3.0, size=out.size), None),
    ("poisson(4)", ("poisson", 4.0), lambda g, out: g.poisson(4.0, size=out.size), None),
    ("poisson(30)", ("poisson", 30.0), lambda g, out: g.poisson(30.0, size=out.size), None),
    ("negative_binomial(5, .3)", ("negative_binomial", 5.0, 0.3),
     lambda g, out: g.negative_binomial(5.0, 0.3, size=out.size), None),
    ("geometric(.5)", ("geometric", 0.5), lambda g, out: g.geometric(0.5, size=out.size), None),
    ("geometric(.05)", ("geometric", 0.05), lambda g, out: g.geometric(0.05, size=out.size), None),
]


def generator():
    return np.random.Generator(np.random.Philox(key=KEY, counter=COUNTER))


def run(sc, pc, n, rounds, isa, block, clock):
    used = sc.set_isa(isa)
    rows = []
    for label, spec, np_call, goal in CASES:
        fam = sc.Family(*spec)
        out = np.empty(n)
        # same values first (the timed calls then continue both streams alike)
        check = sc.Stream(KEY, COUNTER).draw(fam, n, block=block)
        ref = np_call(generator(), out)
        ref = out if ref is None else ref
        if not np.array_equal(check, np.asarray(ref, dtype=np.float64)):
            raise AssertionError("%s: our draws differ from numpy's" % label)
        base = pc.BitgenStream(KEY, COUNTER)
        prm = [float(x) for x in spec[1:]] + [0.0, 0.0]
        base.draw_into(spec[0], out, prm[0], prm[1])
        if not np.array_equal(check, out):
            raise AssertionError("%s: the kernels' current draws differ from numpy's" % label)
        g, s, base = generator(), sc.Stream(KEY, COUNTER), pc.BitgenStream(KEY, COUNTER)
        np_call(g, out)
        s.draw_into(fam, out, block)  # warm up
        base.draw_into(spec[0], out, prm[0], prm[1])
        t_np, t_base, t_fs = [], [], []
        for _ in range(rounds):
            t0 = clock()
            np_call(g, out)
            t1 = clock()
            base.draw_into(spec[0], out, prm[0], prm[1])
            t2 = clock()
            s.draw_into(fam, out, block)
            t3 = clock()
            t_np.append(t1 - t0)
            t_base.append(t2 - t1)
            t_fs.append(t3 - t2)
        a = statistics.median(t_np) / n * 1e9
        c = statistics.median(t_base) / n * 1e9
        b = statistics.median(t_fs) / n * 1e9
        rows.append((label, a, c, b, a / b, c / b, goal))
    return sc.ISA_NAMES[used], rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1 << 16, help="draws per timed call")
    ap.add_argument("--rounds", type=int, default=41)
    ap.add_argument("--block", type=int, default=256,
                    help="draws per fill (<= 0: one fill straight into the output)")
    ap.add_argument("--isa", default="all", choices=["all", "portable", "avx2", "avx512"])
    ap.add_argument("--wall", action="store_true", help="wall-clock time instead of thread CPU time")
    args = ap.parse_args(argv)
    clock = time.perf_counter if args.wall else time.thread_time
    sc = build.load()
    import _pxd_check as pc
    names = sc.ISA_NAMES[: sc.isa_max() + 1] if args.isa == "all" else [args.isa]
    print("numpy %s; CPU refills available: %s; %d draws per call, %d rounds, block %d, %s"
          % (np.__version__, ", ".join(sc.ISA_NAMES[: sc.isa_max() + 1]), args.n,
             args.rounds, args.block, "wall time" if args.wall else "thread CPU time"))
    for name in names:
        used, rows = run(sc, pc, args.n, args.rounds, sc.ISA_NAMES.index(name), args.block, clock)
        print("\nPhilox refill: %s" % used)
        print("%-26s %9s %9s %9s %9s %9s  %s" % ("ns per draw", "numpy", "kernels", "ours",
                                              "vs numpy", "vs kern.", "goal vs numpy"))
        for label, a, c, b, r, rc, goal in rows:
            mark = "" if goal is None else ("%.1fx %s" % (goal, "ok" if r >= goal else "MISSED"))
            print("%-26s %9.2f %9.2f %9.2f %8.2fx %8.2fx  %s" % (label, a, c, b, r, rc, mark))


if __name__ == "__main__":
    main()
