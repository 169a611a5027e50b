"""examples/cartpole_reinforce.py: REINFORCE on gymnasium's CartPole-v1 improves the returns.

Runs only where gymnasium is installed (skipped with the reason otherwise),
except the check that the script exits with status 2 without it.
"""

import sys

import numpy as np
import pytest

from _examples import load_example


def load():
    return load_example("cartpole_reinforce")


@pytest.fixture
def gymnasium():
    return pytest.importorskip("gymnasium", reason="gymnasium is not installed (pip install "
                                                   "gymnasium): the CartPole example is not run")


def test_returns_improve(gymnasium):
    returns, W = load().train(episodes=150, seed=0)
    assert returns.shape == (150,) and W.shape == (5, 2)
    assert np.all((returns >= 1) & (returns <= 500))
    first, last = returns[:20].mean(), returns[-20:].mean()
    # a random policy lasts about 22 steps; the run measured 27.8 -> 220 here
    assert first < 50
    assert last > 80 and last > 2.5 * first, (first, last)


def test_same_seed_same_run(gymnasium):
    mod = load()
    a, Wa = mod.train(episodes=15, seed=3)
    b, Wb = mod.train(episodes=15, seed=3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(Wa, Wb)


def test_reward_to_go():
    G = load().reward_to_go([1.0, 1.0, 1.0], 0.5)
    np.testing.assert_allclose(G, [1.75, 1.5, 1.0])


def test_command_line_and_plot(gymnasium, tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed: no plot to check")
    out = tmp_path / "cartpole.png"
    returns = load().main(["--episodes", "12", "--seed", "1", "--plot", str(out)])
    said = capsys.readouterr().out
    assert "12 episodes: mean return of the first 12" in said and "wrote" in said
    assert len(returns) == 12
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 5000


def test_without_gymnasium_exits_with_status_2(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # makes `import gymnasium` fail
    with pytest.raises(SystemExit) as exc:
        load().main(["--episodes", "2"])
    assert exc.value.code == 2
    assert "needs gymnasium" in capsys.readouterr().err
