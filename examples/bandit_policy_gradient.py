"""REINFORCE on a 10-armed bandit: a softmax policy learns to pull the best arm.
=============================================================================

Each step estimates d/dlogits E[reward] with fastscore (Categorical policy,
table of the arms' mean rewards, leave-one-out baseline) and takes a gradient
ascent step.  The expected reward climbs to the best arm's mean.

    python examples/bandit_policy_gradient.py [--steps 300] [--plot bandit.png]
"""

import argparse

import numpy as np

import fastscore as fs


def train(steps=300, samples=256, lr=2.0, seed=0):
    """Returns (expected reward per step, final policy probabilities, arm means)."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(0.0, 1.0, size=10)
    logits = np.zeros(10)
    history = []
    for step in range(steps):
        est = fs.estimate(fs.Categorical(logits=logits), fs.fn.table(means), n=samples,
                          rng=seed * 100_003 + step, method="rloo")
        history.append(float(est.value))
        logits = logits + lr * est.grad["logits"]
    probs = np.exp(logits - logits.max())
    return np.array(history), probs / probs.sum(), means


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "fastscore example").splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--plot", default=None, help="write a PNG of reward over steps")
    args = parser.parse_args(argv)
    history, probs, means = train(args.steps)
    best = int(np.argmax(means))
    print("best arm %d (mean %.3f); policy puts %.3f on it; expected reward %.3f -> %.3f"
          % (best, means[best], probs[best], history[0], history[-1]))
    if args.plot:
        from _plotting import pyplot

        plt = pyplot()
        if plt is not None:
            fig, ax = plt.subplots(figsize=(6, 3.5))
            ax.plot(history, label="expected reward of the policy")
            ax.axhline(means[best], color="k", ls="--", label="best arm")
            ax.set_xlabel("step")
            ax.set_ylabel("reward")
            ax.legend()
            fig.tight_layout()
            fig.savefig(args.plot, dpi=120)
            print("wrote", args.plot)
    return history, probs, means


if __name__ == "__main__":
    main()
