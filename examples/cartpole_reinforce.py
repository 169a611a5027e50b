"""REINFORCE on CartPole-v1: a linear softmax policy learns to balance the pole.
=============================================================================

The policy is pi(a | s) = softmax(W^T [s, 1]) over the two pushes.  Each
episode is played with one action drawn per state (fs.sample), then
fs.score(Categorical(logits), actions) gives d/dlogits log pi(a_t | s_t) for
the whole episode at once -- a batch of one action per state.  The REINFORCE
gradient is sum_t [s_t, 1] (G_t * score_t)^T, with G_t the discounted return
from t on, standardised over the episode as a baseline; W follows it with
Adam, one step per episode.  The return per episode climbs towards
CartPole's cap of 500 (REINFORCE is noisy: it may dip on the way).

Needs gymnasium (pip install gymnasium); without it the script exits with
status 2.

    python examples/cartpole_reinforce.py [--episodes 300] [--seed 0] [--plot cartpole.png]
"""

import argparse
import sys

import numpy as np

import fastscore as fs

#: CartPole-v1 ends an episode after this many steps (the best return).
MAX_RETURN = 500


def load_gymnasium():
    """The gymnasium module, or ImportError saying how to install it."""
    try:
        import gymnasium
    except ImportError:
        raise ImportError("this example needs gymnasium, which is not installed: "
                          "pip install gymnasium") from None
    return gymnasium


def reward_to_go(rewards, gamma):
    """G_t = sum_{k >= t} gamma^(k - t) r_k."""
    out = np.empty(len(rewards))
    acc = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        acc = rewards[t] + gamma * acc
        out[t] = acc
    return out


def train(episodes=300, lr=0.03, gamma=0.99, seed=0):
    """Returns (return of each episode, final weights W of shape (5, 2)).

    ``seed`` seeds both the environment (its first reset) and the actions.
    """
    gymnasium = load_gymnasium()
    env = gymnasium.make("CartPole-v1")
    gen = np.random.default_rng(seed)  # draws every action
    W = np.zeros((5, 2))  # 4 observations + a bias -> 2 logits
    m = np.zeros_like(W)  # Adam's moments
    v = np.zeros_like(W)
    returns = []
    obs, _ = env.reset(seed=seed)
    try:
        for episode in range(episodes):
            if episode:
                obs, _ = env.reset()
            feats, actions, rewards = [], [], []
            done = False
            while not done:
                s = np.append(obs, 1.0)
                a = int(fs.sample(fs.Categorical(logits=s @ W), 1, rng=gen)[0])
                obs, r, terminated, truncated, _ = env.step(a)
                feats.append(s)
                actions.append(a)
                rewards.append(r)
                done = terminated or truncated
            S = np.array(feats)  # (T, 5)
            G = reward_to_go(rewards, gamma)
            G = (G - G.mean()) / (G.std() + 1e-8)
            # One Categorical per state of the episode (batch_shape (T,)), one action each.
            score = fs.score(fs.Categorical(logits=S @ W), np.array(actions)[None, :])
            g = S.T @ (G[:, None] * score["logits"][0])  # (5, 2), ascent direction
            t = episode + 1
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            W = W + lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
            returns.append(float(np.sum(rewards)))
    finally:
        env.close()
    return np.array(returns), W


def moving_average(x, k=20):
    c = np.cumsum(np.insert(np.asarray(x, dtype=np.float64), 0, 0.0))
    k = max(1, min(k, len(x)))
    return (c[k:] - c[:-k]) / k


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "fastscore example").splitlines()[0])
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None, help="write a PNG of the return per episode")
    args = parser.parse_args(argv)
    try:
        returns, _ = train(args.episodes, seed=args.seed)
    except ImportError as exc:
        print("cartpole_reinforce.py: %s" % exc, file=sys.stderr)
        raise SystemExit(2)
    k = min(20, len(returns))
    print("%d episodes: mean return of the first %d %.1f, of the last %d %.1f (CartPole-v1's "
          "best is %d)" % (len(returns), k, returns[:k].mean(), k, returns[-k:].mean(),
                           MAX_RETURN))
    if args.plot:
        from _plotting import pyplot

        plt = pyplot()
        if plt is not None:
            fig, ax = plt.subplots(figsize=(6, 3.5))
            ax.plot(returns, lw=0.8, alpha=0.5, label="return of the episode")
            avg = moving_average(returns, k)
            ax.plot(np.arange(k - 1, len(returns)), avg, label="mean of the last %d" % k)
            ax.axhline(MAX_RETURN, color="k", ls="--", label="CartPole-v1 cap")
            ax.set_xlabel("episode")
            ax.set_ylabel("return")
            ax.legend(loc="center left")
            fig.tight_layout()
            fig.savefig(args.plot, dpi=120)
            print("wrote", args.plot)
    return returns


if __name__ == "__main__":
    main()
