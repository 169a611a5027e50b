"""Cluster runs against local ones: a LocalCluster of 2 workers x 1 thread vs 2 local threads.

    python bench/cluster.py [--rounds 5] [--threads-cluster]

Each workload runs locally (n_threads=2) and on the cluster (client=, the
default chunks_per_task), interleaved (A B A B ...), and the medians are
printed with their ratio; every cluster result is checked to equal the local
one bit for bit.  Then the cost of a task (the marginal cost of one more
task: many one-chunk tasks against the default's few) and of a call (n = 100,
one task).  ``--threads-cluster`` uses worker threads in this process
(processes=False) instead of worker processes.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fastscore as fs  # noqa: E402
from fastscore import _cluster  # noqa: E402
from fastscore._bench import _median_times as interleaved  # noqa: E402


def same(a, b):
    return (np.array_equal(a.value, b.value) and np.array_equal(a.value_stderr, b.value_stderr)
            and all(np.array_equal(a.grad[k], b.grad[k]) and np.array_equal(a.stderr[k],
                                                                             b.stderr[k])
                    for k in b.grad))


def compare(title, call, client, rounds):
    local = lambda: call(n_threads=2)  # noqa: E731
    there = lambda: call(client=client)  # noqa: E731
    assert same(there(), local()), title + ": the cluster result differs from the local one"
    t = interleaved({"local": local, "cluster": there}, rounds)
    print("| %s | %.3f s | %.3f s | %.2fx |" % (title, t["local"], t["cluster"],
                                                t["cluster"] / t["local"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads-cluster", action="store_true")
    args = ap.parse_args()
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=not args.threads_cluster,
                      dashboard_address=":0") as cluster, cluster.get_client() as client:
        print("load average before: %s" % open("/proc/loadavg").read().split()[:3])
        print("| workload | local, 2 threads | LocalCluster 2 x 1 | ratio |")
        print("|---|---:|---:|---:|")
        d = fs.Normal(0.0, 1.0)
        compare("Normal, x^2, n = 1e8",
                lambda **kw: fs.estimate(d, fs.fn.power(2), 10**8, rng=0, **kw), client,
                args.rounds)
        g = np.random.default_rng(0)
        policy = fs.Categorical(logits=g.normal(size=(10**6, 8)))
        rewards = fs.fn.table(g.normal(size=(10**6, 8)))
        compare("Categorical (1e6, 8), table, rloo, n = 8",
                lambda **kw: fs.estimate(policy, rewards, 8, rng=0, method="rloo", **kw),
                client, args.rounds)

        # The cost of a task: 512 one-chunk tasks against the default's few (same work).
        n = 512 * fs.CHUNK_SIZE
        threads = sum(client.nthreads().values())
        few = _cluster.TASKS_PER_THREAD * threads  # by_spread < by_size here
        t = interleaved({
            "one chunk per task": lambda: fs.estimate(d, fs.fn.power(2), n, rng=0, client=client,
                                                      chunks_per_task=1),
            "default": lambda: fs.estimate(d, fs.fn.power(2), n, rng=0, client=client),
        }, args.rounds)
        print("cost of a task: %.2f ms (512 one-chunk tasks %.3f s, the default's %d tasks "
              "%.3f s)" % (1e3 * (t["one chunk per task"] - t["default"]) / (512 - few),
                           t["one chunk per task"], few, t["default"]))
        calls = []
        for _ in range(10 * args.rounds):
            t0 = time.perf_counter()
            fs.estimate(d, fs.fn.power(2), 100, rng=0, client=client)
            calls.append(time.perf_counter() - t0)
        print("cost of a call (n = 100, one task): %.1f ms (median of %d)"
              % (1e3 * statistics.median(calls), len(calls)))
        print("load average after: %s" % open("/proc/loadavg").read().split()[:3])


if __name__ == "__main__":
    main()
