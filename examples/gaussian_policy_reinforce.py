"""REINFORCE with a diagonal-Gaussian policy on Pendulum-v1 (continuous actions).
==============================================================================

The policy is a joint distribution over the action vector (Pendulum has one
torque, the code is written for any number): for state s,

    a ~ Independent(Normal(mu(s), sigma), 1),   mu(s) = W^T phi(s),

with phi(s) = [cos th, sin th, thdot / 8, (thdot / 8) cos th, 1] and one
log-std parameter per action dimension, sigma = exp(rho).  A batch of
episodes runs side by side: at each step one fs.sample call draws every
episode's action (a batch of Independent distributions, one per episode).

At the end of an iteration the return-to-go G_t of each episode is compared
with the mean G_t of the *other* episodes at the same step (a leave-one-out
baseline: it never uses the episode it corrects, so the gradient stays
unbiased), and fs.estimate_from_samples(policy, actions, G, method="baseline",
baseline=...) gives (G - b) d/dtheta log pi(a | s) for every (step, episode)
at once, by parameter of the Normal (loc and scale).  The chain rule to W and
rho is two lines of NumPy; Adam follows the gradient.

``--squash`` uses the tanh-squashed policy of SAC instead, which never asks
for a torque outside [-2, 2]:

    TransformedDistribution(Independent(Normal(mu, sigma), 1),
                            [TanhTransform(), AffineTransform(0, max_action)])

(transforms apply left to right: tanh first, then the scale to the bound).
The score of a squashed action in the base's parameters is the base's score
at the pre-image x.  The example keeps x (drawn from the base, then mapped by
``policy.transform``: the very samples fs.sample(policy) would give) rather
than inverting tanh, since tanh(x) rounds to +-1 for abs(x) > 19 and the inverse
of the bound is infinite.

The mean return per episode climbs from about -1200 (a random policy) to
about -600 within the default budget (about 20 s on one core); Pendulum's
best is about -150, which needs a richer policy or longer training.

Needs gymnasium (pip install gymnasium); without it the script exits with
status 2.

    python examples/gaussian_policy_reinforce.py [--iterations 150] [--episodes 16]
        [--squash] [--seed 0] [--log-every 10] [--plot pendulum.png]
"""

import argparse
import sys
import time

import numpy as np

import fastscore as fs
from fastscore.transforms import AffineTransform, TanhTransform

#: Pendulum-v1: the torque bound, and the steps of an episode (it is truncated there).
MAX_ACTION, HORIZON = 2.0, 200


def load_gymnasium():
    """The gymnasium module, or ImportError saying how to install it."""
    try:
        import gymnasium
    except ImportError:
        raise ImportError("this example needs gymnasium, which is not installed: "
                          "pip install gymnasium") from None
    return gymnasium


def features(obs):
    """phi(s) for a batch of Pendulum observations [cos th, sin th, thdot]: (B, 5)."""
    c, s, w = obs[:, 0], obs[:, 1], obs[:, 2] / 8.0
    return np.stack([c, s, w, w * c, np.ones_like(c)], axis=1)


def policy(mu, sigma, squash=False):
    """The action distribution for means ``mu`` (B, A) and standard deviations ``sigma`` (A,)."""
    gaussian = fs.Independent(fs.Normal(mu, sigma), 1)
    if not squash:
        return gaussian
    # tanh first, then the scale to the bound: a = MAX_ACTION tanh(x)
    return fs.TransformedDistribution(gaussian,
                                      [TanhTransform(), AffineTransform(0.0, MAX_ACTION)])


def reward_to_go(rewards, gamma):
    """G[t] = sum_{k >= t} gamma^(k - t) rewards[k], along the first axis."""
    out = np.empty_like(rewards)
    acc = np.zeros(rewards.shape[1:])
    for t in range(len(rewards) - 1, -1, -1):
        acc = rewards[t] + gamma * acc
        out[t] = acc
    return out


def train(iterations=150, episodes=16, lr=0.05, gamma=0.95, squash=False, seed=0,
          log_every=0, out=sys.stdout):
    """Returns (mean return per episode of each iteration, W (5, 1), sigma (1,)).

    ``seed`` seeds the environments' resets and the actions; a line is
    printed every ``log_every`` iterations (0: never).
    """
    if episodes < 2:
        raise ValueError("episodes must be >= 2 (the baseline of an episode comes from the "
                         "others)")
    gymnasium = load_gymnasium()
    envs = [gymnasium.make("Pendulum-v1") for _ in range(episodes)]
    gen = np.random.default_rng(seed)  # the resets' seeds and every action
    n_act = envs[0].action_space.shape[0]
    W = np.zeros((5, n_act))
    rho = np.zeros(n_act)  # log sigma
    params = [W, rho]
    m = [np.zeros_like(p) for p in params]  # Adam's moments
    v = [np.zeros_like(p) for p in params]
    history = []
    try:
        for it in range(1, iterations + 1):
            obs = np.stack([env.reset(seed=int(gen.integers(2 ** 31)))[0] for env in envs])
            sigma = np.exp(rho)
            feats, xs, rewards = [], [], []
            for _ in range(HORIZON):
                phi = features(obs)
                pi = policy(phi @ W, sigma, squash)
                if squash:
                    # the base's sample x, then a = 2 tanh(x): what fs.sample(pi) draws
                    x = fs.sample(pi.base_dist, 1, rng=gen)[0]
                    act = pi.transform(x)
                else:
                    x = act = fs.sample(pi, 1, rng=gen)[0]  # (B, A); Pendulum clips to +-2
                steps = [env.step(a) for env, a in zip(envs, act)]
                obs = np.stack([s[0] for s in steps])
                feats.append(phi)
                xs.append(x)
                rewards.append([s[1] for s in steps])
            phi = np.array(feats)  # (T, B, 5)
            x = np.array(xs)  # (T, B, A)
            G = reward_to_go(np.array(rewards, dtype=np.float64), gamma)  # (T, B)
            b = (G.sum(axis=1, keepdims=True) - G) / (episodes - 1)  # leave-one-out
            s = (G - b).std() + 1e-8  # the step size should not depend on the reward scale
            # every (step, episode) is one batch element with one sample (its action)
            T, B = G.shape
            pi = fs.Independent(fs.Normal(phi.reshape(T * B, 5) @ W, sigma), 1)
            est = fs.estimate_from_samples(pi, x.reshape(1, T * B, n_act),
                                           (G / s).reshape(1, T * B), method="baseline",
                                           baseline=(b / s).reshape(T * B))
            g_loc, g_scale = est.grad["loc"], est.grad["scale"]  # (T B, A) each
            # chain rule: loc = phi W, scale = exp(rho); the mean over steps and episodes
            grads = [phi.reshape(T * B, 5).T @ g_loc / (T * B),
                     g_scale.mean(axis=0) * sigma]
            for k, g in enumerate(grads):  # Adam, ascent
                m[k] = 0.9 * m[k] + 0.1 * g
                v[k] = 0.999 * v[k] + 0.001 * g * g
                params[k] += lr * (m[k] / (1 - 0.9 ** it)) / (np.sqrt(v[k] / (1 - 0.999 ** it))
                                                              + 1e-8)
            history.append(float(np.sum(rewards, axis=0).mean()))
            if log_every and (it % log_every == 0 or it == 1):
                print("iteration %4d: mean return %8.1f   sigma %.3f"
                      % (it, history[-1], float(np.exp(rho).mean())), file=out, flush=True)
    finally:
        for env in envs:
            env.close()
    return np.array(history), W, np.exp(rho)


def moving_average(x, k=10):
    c = np.cumsum(np.insert(np.asarray(x, dtype=np.float64), 0, 0.0))
    k = max(1, min(k, len(x)))
    return (c[k:] - c[:-k]) / k


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "fastscore example").splitlines()[0])
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--episodes", type=int, default=16, help="episodes per iteration (>= 2)")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--squash", action="store_true",
                        help="the tanh-squashed Gaussian policy (a TransformedDistribution)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--plot", default=None, help="write a PNG of the learning curve")
    args = parser.parse_args(argv)
    kind = "tanh-squashed Gaussian" if args.squash else "Gaussian"
    t0 = time.perf_counter()
    try:
        returns, W, sigma = train(args.iterations, args.episodes, args.lr, squash=args.squash,
                                  seed=args.seed, log_every=args.log_every)
    except ImportError as exc:
        print("gaussian_policy_reinforce.py: %s" % exc, file=sys.stderr)
        raise SystemExit(2)
    seconds = time.perf_counter() - t0
    k = max(1, min(10, len(returns) // 2))
    first, last = float(returns[:k].mean()), float(returns[-k:].mean())
    print("%s policy on Pendulum-v1, %d iterations x %d episodes (%.1f s): mean return of the "
          "first %d iterations %.1f, of the last %d %.1f; sigma %s"
          % (kind, len(returns), args.episodes, seconds, k, first, k, last,
             np.array2string(sigma, precision=3)))
    if args.plot:
        from _plotting import pyplot

        plt = pyplot()
        if plt is not None:
            fig, ax = plt.subplots(figsize=(6, 3.5))
            it = np.arange(1, len(returns) + 1)
            ax.plot(it, returns, lw=0.8, alpha=0.5, label="mean return of the iteration")
            avg = moving_average(returns, k)
            ax.plot(it[k - 1:], avg, label="mean of the last %d" % k)
            ax.set_xlabel("iteration (%d episodes each)" % args.episodes)
            ax.set_ylabel("return per episode")
            ax.set_title("REINFORCE, %s policy, Pendulum-v1" % kind)
            ax.legend(loc="lower right")
            fig.tight_layout()
            fig.savefig(args.plot, dpi=120)
            print("wrote", args.plot)
    return {"first": first, "last": last, "returns": returns, "sigma": sigma,
            "seconds": seconds}


if __name__ == "__main__":
    main()
