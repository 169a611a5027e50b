"""The examples run, at small sizes, and reach the answers they claim."""


import numpy as np
import pytest

from _examples import load_example as load


def test_bandit_converges_to_the_best_arm():
    history, probs, means = load("bandit_policy_gradient").train(steps=150, samples=128)
    best = int(np.argmax(means))
    assert probs[best] > 0.9
    assert history[-1] > 0.95 * means[best]
    assert history[-1] > history[0]


def test_bbvi_reaches_the_exact_posterior():
    history, (pa, pb) = load("bbvi_poisson_gamma").fit(steps=1500, samples=1024)
    alpha, beta = history[-1]
    assert alpha / beta == pytest.approx(pa / pb, rel=0.01)
    assert np.sqrt(alpha) / beta == pytest.approx(np.sqrt(pa) / pb, rel=0.05)


def test_greeks_match_black_scholes():
    mod = load("greeks")
    strikes = np.array([90.0, 105.0, 120.0])
    delta, dse, vega, vse = mod.greeks(strikes, n=200_000)
    bs_delta, bs_vega = mod.black_scholes(strikes)
    assert np.all(np.abs(delta - bs_delta) < 4 * dse)
    assert np.all(np.abs(vega - bs_vega) < 4 * vse)


def test_variance_table_orders_the_estimators():
    res = load("variance").table(n=50_000)
    for name, row in res.items():
        assert set(row) == {"plain", "baseline", "rloo", "cv"}
        assert row["rloo"] < row["plain"], name


def test_indecater_benchmark_exact_gradient_and_estimates():
    mod = load("indecater_benchmark")
    # the exact gradient (convolutions) against enumeration of all 4^3 outcomes
    for logits in (mod.draw_logits(3, 4), mod.draw_logits(5, None)):
        for b in (mod.offset(logits, "near"), mod.offset(logits, "far"), 2.0, -1.5):
            value, grad = mod.exact_gradient(logits, b)
            bf_value, bf_grad = mod.brute_force_gradient(logits, b)
            assert grad.shape == np.shape(logits)
            assert abs(value - bf_value) < 1e-12
            np.testing.assert_allclose(grad, bf_grad, rtol=0, atol=1e-12)
    # IndeCateR is unbiased on 6 x 10, and at equal n below the score function with rloo
    prob = mod.Problem(6, 10, "near")
    ind = mod.repeat(prob, "indecater", 4, 300, seed=1)
    assert ind["z"].shape == (6, 10)
    assert np.all(np.abs(ind["z"]) < 4.5), ind["z"]
    assert 0.7 < ind["honesty"] < 1.4
    rloo = mod.repeat(prob, "score rloo", 4, 300, seed=2)
    assert ind["variance"] < rloo["variance"] / 5
    # the evaluations per sample are counted from f's calls
    assert mod.evaluations_per_sample(prob, "indecater") == (61, 0)
    assert mod.evaluations_per_sample(prob, "rebar t=0.5") == (2, 2)


#: each example's command line at a small size, and what its output must say
SMALL_RUNS = {
    "bandit_policy_gradient": (["--steps", "20"], "best arm"),
    "bbvi_poisson_gamma": (["--steps", "50"], "exact posterior"),
    "estimators": (["--n", "2000"], "pathwise"),
    "discrete_gradients": (["--n", "2000", "--rows", "40"], "rebar"),
    "greeks": (["--n", "20000"], "strike"),
    "indecater_benchmark": (["--quick"], "| 3 x 100 | near 153.5 | indecater |"),
    "variance": (["--n", "5000"], "rloo"),
}


@pytest.mark.parametrize("name", sorted(SMALL_RUNS))
def test_example_command_line(name, capsys):
    args, says = SMALL_RUNS[name]
    load(name).main(args)
    out = capsys.readouterr().out
    assert says in out, out


@pytest.mark.parametrize("name", sorted(SMALL_RUNS))
def test_examples_write_their_plots(name, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / (name + ".png")
    args, _ = SMALL_RUNS[name]
    load(name).main(args + ["--plot", str(out)])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 5000
