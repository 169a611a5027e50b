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


#: each example's command line at a small size, and what its output must say
SMALL_RUNS = {
    "bandit_policy_gradient": (["--steps", "20"], "best arm"),
    "bbvi_poisson_gamma": (["--steps", "50"], "exact posterior"),
    "estimators": (["--n", "2000"], "pathwise"),
    "discrete_gradients": (["--n", "2000", "--rows", "40"], "rebar"),
    "greeks": (["--n", "20000"], "strike"),
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
