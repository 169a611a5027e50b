"""pytest-benchmark suite (not part of the default test run).

    pytest bench/ --benchmark-only --benchmark-group-by=group
    FASTSCORE_BENCH_SIZES=1e4,1e6,1e7 pytest bench/ --benchmark-only --benchmark-group-by=group
"""

import os

import pytest

from workloads import (ESTIMATOR_CASES, FAMILIES, SECOND_ORDER_CASES, estimator_variants,
                       family_variants, joint_variants, overhead_call, rl_workload,
                       second_order_variants)

#: Sample sizes, from FASTSCORE_BENCH_SIZES (comma separated).
SIZES = [int(float(s)) for s in os.environ.get("FASTSCORE_BENCH_SIZES", "1e4,1e6").split(",")]

CASES = [(name, n, variant)
         for name in FAMILIES for n in SIZES
         for variant in family_variants(name, 100, with_reference=n <= 10 ** 5)]


@pytest.mark.parametrize("name, n, variant", CASES,
                         ids=["%s-n%g-%s" % c for c in CASES])
def test_family(benchmark, name, n, variant):
    variants = family_variants(name, n, with_reference=n <= 10 ** 5)
    if variant not in variants:
        pytest.skip("not available")
    benchmark.group = "%s n=%g" % (name, n)
    benchmark.pedantic(variants[variant], rounds=5, warmup_rounds=1)


ESTIMATOR_RUNS = [(name, variant) for name in ESTIMATOR_CASES
                  for variant in estimator_variants(name, 100)]


@pytest.mark.parametrize("name, variant", ESTIMATOR_RUNS, ids=["%s-%s" % c for c in ESTIMATOR_RUNS])
def test_estimator(benchmark, name, variant):
    """Each estimator of a family at n = max(SIZES), against the floor of its draws."""
    benchmark.group = "estimators: %s n=%g" % (name, max(SIZES))
    benchmark.pedantic(estimator_variants(name, max(SIZES))[variant], rounds=5, warmup_rounds=1)


@pytest.mark.parametrize("variant", ["floor", "fused rloo"])
def test_policy_gradient_batch(benchmark, variant):
    benchmark.group = "policy gradient: Categorical (1e5, 8), n=8, rloo"
    benchmark.pedantic(rl_workload()[variant], rounds=5, warmup_rounds=1)


def test_per_call_overhead(benchmark):
    benchmark.group = "per-call overhead, n=100"
    benchmark(overhead_call())


JOINT_RUNS = [(D, variant) for D in (10, 100, 1000) for variant in joint_variants(D, 2)]


@pytest.mark.parametrize("D, variant", JOINT_RUNS, ids=["D%d-%s" % c for c in JOINT_RUNS])
def test_joint(benchmark, D, variant):
    """Independent(Normal) of D coordinates, one f of the event, against the scalar family
    (the same D x n draws; n = max(SIZES) // D)."""
    benchmark.group = "joint: D=%d" % D
    benchmark.pedantic(joint_variants(D, max(2, max(SIZES) // D))[variant], rounds=5,
                       warmup_rounds=1)


SECOND_ORDER_RUNS = [(name, variant) for name in SECOND_ORDER_CASES
                     for variant in ("order=1", "order=2")]


@pytest.mark.parametrize("name, variant", SECOND_ORDER_RUNS,
                         ids=["%s-%s" % c for c in SECOND_ORDER_RUNS])
def test_second_order(benchmark, name, variant):
    """order=2 (the gradient and the Hessian) against order=1 on the same samples, at
    n = max(SIZES): P = 2 (Normal) and P = 9 (MultivariateNormal, D = 3)."""
    benchmark.group = "second order: %s n=%g" % (name, max(SIZES))
    benchmark.pedantic(second_order_variants(name, max(SIZES))[variant], rounds=5,
                       warmup_rounds=1)


import loops  # noqa: E402

LOOP_RUNS = [(name, variant) for name, make in loops.LOOPS.items() for variant in make()]


@pytest.mark.parametrize("name, variant", LOOP_RUNS, ids=["%s-%s" % c for c in LOOP_RUNS])
def test_training_step(benchmark, name, variant):
    """One training step, fastscore against the same step in PyTorch (bench/loops.py)."""
    benchmark.group = "training step: %s" % name
    benchmark.pedantic(loops.LOOPS[name]()[variant], rounds=5, warmup_rounds=1)


CALL_RUNS = [(name, variant) for name, (make, _) in loops.CALLS.items() for variant in make()]


@pytest.mark.parametrize("name, variant", CALL_RUNS, ids=["%s-%s" % c for c in CALL_RUNS])
def test_small_call(benchmark, name, variant):
    """A small call a training loop makes every step, fastscore against PyTorch."""
    benchmark.group = "small call: %s" % name
    benchmark(loops.CALLS[name][0]()[variant])
