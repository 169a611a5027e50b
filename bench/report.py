"""One-process benchmark report: every workload, variants interleaved.

    python bench/report.py [--quick] [--plot bench/out/throughput.png] [--markdown-out FILE]

Prints markdown tables of ns per sample with ratios to the sampling floor and
to the NumPy one-liner, thread scaling, peak memory and per-call overhead,
then evaluates the project's speed goals (PASS / MISS with the figure).
"""

import argparse
import io
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import fastscore as fs  # noqa: E402
from fastscore._bench import _median_times as interleaved  # noqa: E402
from fastscore._bench import _plot as plot_throughput, numpy_normal_x2  # noqa: E402
from workloads import (ESTIMATOR_CASES, FAMILIES, SAMPLING, estimator_variants, joint_variants,  # noqa: E402
                       family_variants, jax_variant, lowlevel_square, numpy_on_streams,
                       numpy_one_stream, overhead_call, rl_workload, torch_variant)


def peak_rss_mib(code):
    """Peak RSS (MiB) of a fresh Python process running ``code``."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec from the
    # forked parent, which would report this (large) process's peak.
    prog = (code + "\nprint([l.split()[1] for l in open('/proc/self/status')"
            " if l.startswith('VmHWM')][0])")
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True,
                         check=True, cwd=HERE)
    return int(out.stdout.strip().splitlines()[-1]) / 1024.0


MEM_SETUP = ("import sys; sys.path.insert(0, %r)\nimport fastscore as fs\n"
             "from workloads import lowlevel_square\n" % HERE)


def run(quick=False, plot=None, out=sys.stdout):
    p = lambda *a: print(*a, file=out)
    rounds = 3 if quick else 7
    sizes = [10 ** 4, 10 ** 6] if quick else [10 ** 4, 10 ** 6, 10 ** 7]
    goals = []
    p("# fastscore benchmark report\n")
    p("machine: %d cores available, OpenMP %s; fastscore %s, numpy %s\n"
      % (os.cpu_count(), "on" if fs._kernels.HAVE_OPENMP else "off", fs.__version__,
         __import__("numpy").__version__))
    p("low-level f: %s\n" % ("none" if lowlevel_square() is None
                             else __import__("workloads")._LL["kind"]))

    p("## Families, 1 thread (ns per sample; ratio to the floor; speed-up over NumPy)\n")
    p("NumPy: default_rng draws and fastscore's vectorised NumPy score (the reference "
      "backend's formulas), then the mean.\n")
    p("| family | n | floor | built-in f | low-level f | Python f | NumPy | reference |"
      " built-in / floor | NumPy / built-in |")
    p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    worst = (0.0, None)
    for name in FAMILIES:
        for n in sizes:
            med = interleaved(family_variants(name, n, with_reference=n <= 10 ** 4), rounds)
            ns = {k: v / n * 1e9 for k, v in med.items()}
            cell = lambda k: "%.2f" % ns[k] if k in ns else "-"
            ratio = ns["fused built-in f"] / ns["floor"]
            p("| %s | %g | %s | %s | %s | %s | %s | %s | %.2fx | %.2fx |"
              % (name, n, cell("floor"), cell("fused built-in f"), cell("fused low-level f"),
                 cell("fused Python f"), cell("NumPy one-liner"), cell("reference backend"),
                 ratio, ns["NumPy one-liner"] / ns["fused built-in f"]))
            if n == 10 ** 6 and ratio > worst[0]:
                worst = (ratio, name)
            if n == 10 ** 6:
                goals.append(("1. %s n=1e6 built-in f <= 1.10x floor" % name, ratio <= 1.10,
                              "%.2fx" % ratio))

    p("\n## Estimators, 1 thread, n = 1e6 (ns per sample; ratio to the floor of their draws)\n")
    p("score and pathwise draw the same samples (floor); measure draws each sample's coupled "
      "points too (measure floor).\n")
    p("| family | floor | score | pathwise | measure floor | measure |")
    p("|---|---:|---:|---:|---:|---:|")
    n = 10 ** 6
    for name in ESTIMATOR_CASES:
        med = interleaved(estimator_variants(name, n), rounds)
        ns = {k: v / n * 1e9 for k, v in med.items()}

        def cell(k, floor_key="floor"):
            if k not in ns:
                return "-"
            return "%.2f (%.2fx)" % (ns[k], ns[k] / ns[floor_key])
        p("| %s | %.2f | %s | %s | %s | %s |" % (
            name, ns["floor"], cell("score"), cell("pathwise"),
            "%.2f" % ns["measure floor"] if "measure floor" in ns else "-",
            cell("measure", "measure floor")))
        if name == "Normal":
            ratio = ns["pathwise"] / ns["score"]
            goals.append(("8. pathwise Normal loop <= 1.2x the score-function loop",
                          ratio <= 1.2, "%.2fx" % ratio))

    p("\n## Joint distributions, 1 thread (ns per coordinate and sample)\n")
    p("fs.Independent(fs.Normal(loc (D,), 1.5), 1) with one f of the whole event, against the "
      "scalar Normal of D batch elements and its own linear f (the same D n draws).\n")
    p("| D | n | scalar, built-in linear | Independent, built-in linear | Independent, Python "
      "sum | ratio (built-in) |")
    p("|---:|---:|---:|---:|---:|---:|")
    for D in (10, 100, 1000):
        n = (10 ** 5 if quick else 10 ** 6) // D * 10
        med = interleaved(joint_variants(D, n), rounds)
        ns = {k: v / (n * D) * 1e9 for k, v in med.items()}
        ratio = ns["Independent, built-in linear"] / ns["scalar Normal, built-in linear"]
        p("| %d | %g | %.2f | %.2f | %.2f | %.2fx |" % (
            D, n, ns["scalar Normal, built-in linear"], ns["Independent, built-in linear"],
            ns["Independent, Python sum"], ratio))
        goals.append(("J. Independent(Normal) D=%d within 1.5x the scalar family" % D,
                      ratio <= 1.5, "%.2fx" % ratio))

    import loops

    if loops.torch is not None:
        p("\n## Training steps against PyTorch, 1 thread (ms per step)\n")
        p("The same step and the same f on both sides (bench/loops.py): Gaussian-policy "
          "REINFORCE, mean-field BBVI (S = 256), an Asian option's path gradient. "
          "f's own cost, measured alone, is the f columns.\n")
        p("| loop | fastscore | fastscore, f in torch | PyTorch | PyTorch / fastscore | "
          "PyTorch / fastscore, f in torch | f in NumPy | f in torch | "
          "PyTorch / fastscore without f |")
        p("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, make in loops.LOOPS.items():
            med = {k: v * 1e3 for k, v in interleaved(make(), rounds).items()}
            rest = (med["torch"] - med["f torch"]) / max(med["fastscore"] - med["f numpy"], 1e-9)
            tf = med["torch"] / med["fastscore, f in torch"]
            p("| %s | %.3f | %.3f | %.3f | %.2fx | %.2fx | %.3f | %.3f | %.2fx |" % (
                name, med["fastscore"], med["fastscore, f in torch"], med["torch"],
                med["torch"] / med["fastscore"], tf, med["f numpy"], med["f torch"], rest))
            goals.append(("11. %s: PyTorch / fastscore without f >= 2" % name, rest >= 2.0,
                          "%.2fx" % rest))
            goals.append(("11. %s: PyTorch / fastscore with f in torch >= 2" % name, tf >= 2.0,
                          "%.2fx" % tf))

        p("\n## Small calls against PyTorch, 1 thread (us per call)\n")
        p("What a training loop does many times a step, side by side (bench/loops.py CALLS).\n")
        p("| call | fastscore | PyTorch | PyTorch / fastscore | goal |")
        p("|---|---:|---:|---:|---:|")
        for name, (make, goal) in loops.CALLS.items():
            reps = 200  # calls per timing: one call is tens of microseconds
            batches = {k: (lambda fn=fn: [fn() for _ in range(reps)]) for k, fn in make().items()}
            med = {k: v * 1e6 / reps for k, v in interleaved(batches, rounds * 3).items()}
            ratio = med["torch"] / med["fastscore"]
            p("| %s | %.1f | %.1f | %.2fx | >= %.2fx |" % (name, med["fastscore"], med["torch"],
                                                       ratio, goal))
            goals.append(("10. %s: PyTorch / fastscore >= %.2f" % (name, goal), ratio >= goal,
                          "%.2fx" % ratio))

    p("\n## Sampling against numpy (fs.sample, 1 thread, ns per draw)\n")
    p("numpy draws the same values from Generator(Philox) on fastscore's chunk streams "
      "(its best case: size= per chunk, checked equal), and on one stream with size=n.\n")
    p("| sampler | n | fs.sample | numpy, the same streams | numpy, one stream |"
      " speed-up (same values) |")
    p("|---|---:|---:|---:|---:|---:|")
    n = 10 ** 6 if quick else 10 ** 7
    for name, make, method, args, goal in SAMPLING:
        d = make()
        same = numpy_on_streams(method, args, n)
        if not np.array_equal(same(), fs.sample(d, n, rng=0, n_threads=1)):
            raise AssertionError("%s: numpy's draws on the streams differ from fs.sample" % name)
        med = interleaved({"fs": lambda: fs.sample(d, n, rng=0, n_threads=1), "same": same,
                           "one": numpy_one_stream(method, args, n)}, rounds)
        sp = med["same"] / med["fs"]
        p("| %s | %g | %.2f | %.2f | %.2f | %.2fx |" % (name, n, med["fs"] * 1e9 / n,
                                                       med["same"] * 1e9 / n,
                                                       med["one"] * 1e9 / n, sp))
        if goal is not None:
            goals.append(("9. fs.sample %s >= %gx numpy's same draws" % (name, goal), sp >= goal,
                          "%.2fx" % sp))

    p("\n## Thread scaling (built-in f, n = 1e6 and 1e7)\n")
    p("| family | n | 1 thread (ms) | 2 threads (ms) | speed-up |")
    p("|---|---:|---:|---:|---:|")
    for name in ("Normal", "Poisson", "Categorical", "Gamma", "Dirichlet"):
        for n in ([10 ** 6] if quick else [10 ** 6, 10 ** 7]):
            d, f = FAMILIES[name][0](), FAMILIES[name][1]()
            med = interleaved({t: (lambda t=t: fs.estimate(d, f, n, rng=0, n_threads=t))
                               for t in (1, 2)}, rounds)
            sp = med[1] / med[2]
            p("| %s | %g | %.2f | %.2f | %.2fx |" % (name, n, med[1] * 1e3, med[2] * 1e3, sp))
            goals.append(("2. %s n=%g: 2 threads >= 1.85x 1 thread" % (name, n), sp >= 1.85,
                          "%.2fx" % sp))

    p("\n## Normal, f = x^2, n = 1e6: against NumPy, JAX and PyTorch\n")
    n = 10 ** 6
    d, f = FAMILIES["Normal"][0](), FAMILIES["Normal"][1]()
    # The NumPy a user writes by hand for this case (PCG64 default_rng, closed-form score).
    vs = {"fastscore, 1 thread": lambda: fs.estimate(d, f, n, rng=0, n_threads=1),
          "fastscore, default threads": lambda: fs.estimate(d, f, n, rng=0),
          "NumPy one-liner": numpy_normal_x2(n)}
    for label, make in (("JAX jit", jax_variant), ("PyTorch", torch_variant)):
        v = make(n)
        if v is not None:
            vs[label] = v
    med = interleaved(vs, rounds)
    p("| variant | ms | fastscore (default threads) speed-up |")
    p("|---|---:|---:|")
    for k, v in med.items():
        p("| %s | %.2f | %.2fx |" % (k, v * 1e3, v / med["fastscore, default threads"]))
    sp = med["NumPy one-liner"] / med["fastscore, 1 thread"]
    goals.append(("3. Normal x^2 n=1e6, 1 thread >= 2.3x NumPy", sp >= 2.3, "%.2fx" % sp))
    sp = med["NumPy one-liner"] / med["fastscore, default threads"]
    goals.append(("3. Normal x^2 n=1e6, default threads >= 4x NumPy", sp >= 4.0, "%.2fx" % sp))
    for label in ("JAX jit", "PyTorch"):
        if label in med:
            sp = med[label] / med["fastscore, default threads"]
            goals.append(("3. >= 2x faster than %s (default threads)" % label, sp >= 2.0,
                          "%.2fx" % sp))
        else:
            goals.append(("3. >= 2x faster than %s" % label, None, "not installed"))

    p("\n## Batched policy gradient: Categorical logits (1e5, 8), n = 8 per row, rloo\n")
    p("| threads | floor (ms) | fused rloo (ms) | ratio |")
    p("|---:|---:|---:|---:|")
    for t in (1, 2):
        med = interleaved(rl_workload(n_threads=t), rounds)
        ratio = med["fused rloo"] / med["floor"]
        p("| %d | %.2f | %.2f | %.2fx |" % (t, med["floor"] * 1e3, med["fused rloo"] * 1e3,
                                             ratio))
        goals.append(("4. policy-gradient batch (%d thr) <= 1.3x floor" % t, ratio <= 1.3,
                      "%.2fx" % ratio))
        if t == 1:
            goals.append(("4. policy-gradient batch (1 thr) <= 1.5x floor", ratio <= 1.5,
                          "%.2fx" % ratio))

    p("\n## Python f on Normal, n = 1e7\n")
    n = 10 ** 6 if quick else 10 ** 7
    v = family_variants("Normal", n, with_reference=False)
    v["NumPy one-liner"] = numpy_normal_x2(n)
    med = interleaved({k: v[k] for k in ("fused Python f", "NumPy one-liner", "floor")},
                      max(2, rounds // 2))
    sp = med["NumPy one-liner"] / med["fused Python f"]
    p("Python f %.1f ms, NumPy one-liner %.1f ms, floor %.1f ms (n = %g): %.2fx faster than "
      "NumPy" % (med["fused Python f"] * 1e3, med["NumPy one-liner"] * 1e3,
                 med["floor"] * 1e3, n, sp))
    goals.append(("5. Python f faster than NumPy at n=%g" % n, sp > 1.0, "%.2fx" % sp))

    p("\n## Peak memory (RSS of a fresh process)\n")
    code_b = MEM_SETUP + "fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(2), %d, rng=0)"
    code_l = MEM_SETUP + "fs.estimate(fs.Normal(0.0, 1.0), lowlevel_square(), %d, rng=0)"
    code_p = MEM_SETUP + "fs.estimate(fs.Normal(0.0, 1.0), lambda x: x * x, %d, rng=0)"
    big = 10 ** 7 if quick else 10 ** 8
    rows = [("built-in f", code_b, 10 ** 4, big), ("low-level f", code_l, 10 ** 4, big),
            ("Python f", code_p, 10 ** 7, 10 ** 8 if not quick else 3 * 10 ** 7)]
    p("| f | small n | peak MiB | large n | peak MiB | growth MiB |")
    p("|---|---:|---:|---:|---:|---:|")
    for label, code, small, large in rows:
        a, b = peak_rss_mib(code % small), peak_rss_mib(code % large)
        p("| %s | %g | %.1f | %g | %.1f | %.1f |" % (label, small, a, large, b, b - a))
        limit = 5.0
        goals.append(("6. peak RSS %s n=%g within %g MiB of n=%g" % (label, large, limit, small),
                      b - a <= limit, "%+.1f MiB" % (b - a)))

    call = overhead_call()
    ts = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(1000):
            call()
        ts.append((time.perf_counter() - t0) / 1000)
    us = statistics.median(ts) * 1e6
    p("\n## Per-call overhead\n\nfs.estimate, n = 100, built-in f, 1 thread: median %.1f us" % us)
    goals.append(("7. per-call overhead <= 25 us", us <= 25.0, "%.1f us" % us))

    p("\n## Goals\n")
    for label, ok, fig in goals:
        p("- %s %s: %s" % ({True: "PASS", False: "MISS", None: "SKIP"}[ok], label, fig))
    if plot:
        os.makedirs(os.path.dirname(os.path.abspath(plot)), exist_ok=True)
        plot_throughput(plot, quick, out)
    return goals


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--plot", default=os.path.join(HERE, "out", "throughput.png"))
    ap.add_argument("--markdown-out", default=None)
    args = ap.parse_args(argv)
    buf = io.StringIO()

    class Tee:
        def write(self, s):
            sys.stdout.write(s)
            buf.write(s)

        def flush(self):
            sys.stdout.flush()

    run(args.quick, args.plot, Tee())
    if args.markdown_out:
        with open(args.markdown_out, "w") as fh:
            fh.write(buf.getvalue())


if __name__ == "__main__":
    main()
