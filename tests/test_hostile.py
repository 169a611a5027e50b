"""Hostile conditions (issue 24): small thread stacks, Ctrl-C, overwritten waves.

The stack and signal tests run their calls in a subprocess, so that a crash
(a stack overflow is a segfault) fails the test instead of ending the run.
"""

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np
import pytest

import fastscore as fs

# The calls a small stack must survive: every estimator kind, inline and
# Python f, the counting path, the vector families, sample / score /
# estimate_from_samples.
CALLS = textwrap.dedent('''
    import numpy as np, fastscore as fs

    def calls(n_threads, backend="compiled"):
        kw = dict(rng=0, n_threads=n_threads, backend=backend)
        n = 10 ** 5
        b = fs.Bernoulli(logits=np.array([0.3, -0.2]))
        mvn = fs.MultivariateNormal(np.zeros(3), np.eye(3))
        fs.estimate(fs.Normal(np.zeros(4), 1.0), fs.fn.power(2), n, **kw)
        fs.estimate(fs.Normal(0.0, 1.0), lambda x: x * x, n, **kw)
        fs.estimate(mvn, fs.fn.linear([1.0, 2.0, 3.0]), n, **kw)
        fs.estimate(fs.MultivariateNormal(np.zeros(40), np.eye(40)), fs.fn.linear(1.0),
                    3000, **kw)
        fs.estimate(fs.Dirichlet(np.ones(4)), fs.fn.linear([1.0, 2.0, 3.0, 4.0]), n, **kw)
        fs.estimate(fs.Categorical(logits=np.zeros(5)), fs.fn.table([1.0, 2, 3, 4, 5]), n, **kw)
        fs.estimate(fs.Poisson(3.0), fs.fn.power(2), n, method="rloo", **kw)
        fs.estimate(fs.Gamma(0.5, 1.0), fs.fn.power(2), n, method="cv", **kw)
        fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(2), n, estimator="pathwise", **kw)
        fs.estimate(mvn, fs.fn.linear(1.0), n, estimator="pathwise", **kw)
        fs.estimate(fs.Poisson(3.0), fs.fn.power(2), n, estimator="measure", **kw)
        fs.estimate(fs.Normal(0.0, 1.0), lambda x: x * x, n, estimator="measure", **kw)
        for est in ("concrete", "rebar"):
            fs.estimate(b, fs.fn.power(2), n, estimator=est, temperature=0.5, **kw)
        for est in ("arm", "disarm"):
            fs.estimate(b, fs.fn.power(2), n, estimator=est, **kw)
        kw.pop("rng")
        fs.sample(fs.Normal(np.zeros(3), 1.0), n, rng=0, **kw)
        fs.sample(mvn, n, rng=0, **kw)
        x = fs.sample(fs.Gamma(2.0, 1.0), 1000, rng=1)
        fs.score(fs.Gamma(2.0, 1.0), x)
        fs.estimate_from_samples(fs.Gamma(2.0, 1.0), x, x ** 2, method="rloo")
''')


def _env(**extra):
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(fs.__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def _run(body, timeout=300, **env):
    script = CALLS + textwrap.dedent(body)
    # from a neutral folder: `python -c` puts the working folder first on sys.path, and
    # from the repository's root that would be the uncompiled source tree
    return subprocess.run([sys.executable, "-c", script], env=_env(**env), timeout=timeout,
                          capture_output=True, text=True, cwd=tempfile.gettempdir())


def _stack_sizes():
    import threading
    sizes = []
    for kib in (128, 64):
        try:
            old = threading.stack_size(kib * 1024)
            threading.stack_size(old)
            sizes.append(kib)
        except (ValueError, RuntimeError):
            pass
    return sizes


@pytest.mark.parametrize("backend", ["compiled", "reference"])
@pytest.mark.parametrize("kib", _stack_sizes())
def test_every_call_runs_in_a_thread_with_a_small_stack(kib, backend):
    proc = _run('''
        import threading
        threading.stack_size(%d * 1024)
        failed = []
        def run():
            try:
                calls(1, %r)
            except BaseException as e:
                failed.append(repr(e))
        t = threading.Thread(target=run)
        t.start()
        t.join()
        print("failed" if failed else "ok", failed)
    ''' % (kib, backend))
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.startswith("ok"), proc.stdout + proc.stderr[-2000:]


def test_every_call_runs_on_small_openmp_stacks():
    if not fs._kernels.HAVE_OPENMP:
        pytest.skip("built without OpenMP")
    proc = _run('''
        calls(2)
        print("ok")
    ''', OMP_STACKSIZE="128K", OMP_NUM_THREADS="2")
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.startswith("ok"), proc.stdout + proc.stderr[-2000:]


# Long calls of every shape: a huge n of a cheap family, and few samples of a
# costly event (one chunk of MultivariateNormal D = 512 is minutes of work).
LONG_CALLS = {
    "sample_normal": "fs.sample(fs.Gamma(0.5, 1.0), 2 * 10 ** 8, rng=0, n_threads=1)",
    "sample_mvn": "fs.sample(fs.MultivariateNormal(np.zeros(1024), np.eye(1024)), 10 ** 5, "
                  "rng=0, n_threads=1)",
    "estimate_normal": "fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(2), 10 ** 12, rng=0, "
                       "n_threads=1)",
    "estimate_mvn": "fs.estimate(fs.MultivariateNormal(np.zeros(512), np.eye(512)), "
                    "fs.fn.linear(1.0), 10 ** 5, rng=0, n_threads=1)",
    "estimate_mvn_pathwise": "fs.estimate(fs.MultivariateNormal(np.zeros(512), np.eye(512)), "
                             "fs.fn.linear(1.0), 10 ** 5, rng=0, n_threads=1, "
                             "estimator='pathwise')",
    "estimate_mvn_python_f": "fs.estimate(fs.MultivariateNormal(np.zeros(512), np.eye(512)), "
                             "lambda x: x.sum(-1), 10 ** 5, rng=0, n_threads=1)",
    "estimate_categorical": "fs.estimate(fs.Categorical(logits=np.zeros(1000)), "
                            "fs.fn.table(np.arange(1000.0)), 10 ** 12, rng=0, n_threads=1)",
    "estimate_dirichlet": "fs.estimate(fs.Dirichlet(np.ones(2000)), fs.fn.linear(1.0), "
                          "10 ** 9, rng=0, n_threads=1)",
}


@pytest.mark.parametrize("name", sorted(LONG_CALLS))
def test_ctrl_c_interrupts_a_long_call_quickly(name):
    """SIGINT 1 s into a long call raises KeyboardInterrupt within 1.5 s (the
    kernels check for signals every ~0.2 s of work or less, whatever the shape)."""
    script = textwrap.dedent('''
        import sys, time
        import numpy as np, fastscore as fs
        print("start", flush=True)
        try:
            %s
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(0)
        print("finished", flush=True)
    ''') % LONG_CALLS[name]
    proc = subprocess.Popen([sys.executable, "-c", script], env=_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=tempfile.gettempdir())
    try:
        assert proc.stdout.readline().strip() == "start"
        time.sleep(1.0)
        assert proc.poll() is None, "the call ended before the signal: make it longer"
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        line = proc.stdout.readline().strip()
        latency = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert line == "interrupted", (line, proc.stderr.read()[-2000:])
    assert latency < 1.5, latency
