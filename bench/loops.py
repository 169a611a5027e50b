"""Whole training steps, fastscore against the same step in pure PyTorch.

The three loops of the joint-distribution examples, each as one step with
the same f on both sides:

* ``policy``: REINFORCE with a diagonal-Gaussian policy, B states, 2-D actions,
  4 actions per state, leave-one-out baseline; the policy mean is linear in
  the state (W of 8 x 2) and the log-std is a parameter; the gradients are
  chained to W and log-std.
* ``bbvi``: mean-field BBVI for Bayesian logistic regression (N = 500
  synthetic rows, D weights), S = 256 samples, rloo, the log-joint as f.
* ``asian``: an arithmetic Asian call on a 50-step path, delta-style gradient
  of E[payoff] in the increments' loc and scale, 20000 paths.

Each workload gives {"fastscore": step, "torch": step, "fastscore, f in torch":
the fastscore step with f written in torch (fastscore.torch.tensor_f), "f numpy": f
alone, "f torch": f alone, each on one draw of the step's samples}: f's own cost
tells how much of a step is f.  Torch
variants exist only when torch is installed.
"""

import numpy as np

import fastscore as fs

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None
try:   # one BLAS thread, as torch gets one: the comparison is per core
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
except ImportError:  # pragma: no cover
    pass


def _torch_ready():
    if torch is None:
        return False
    torch.set_num_threads(1)
    return True


def tensor_f(f):
    """f written in torch, as fastscore takes it (fastscore.torch.tensor_f)."""
    import fastscore.torch as fs_torch

    return fs_torch.tensor_f(f)


def policy(B=800, n=4, seed=0):
    g = np.random.default_rng(seed)
    S = g.normal(size=(B, 8))
    W = g.normal(size=(8, 2)) * 0.1
    log_std = np.full(2, -0.5)
    target = np.tanh(S[:, :2])

    def f_np(a):
        return -((a - target) ** 2).sum(axis=-1)

    step_no = [0]

    def fs_step(f=f_np):
        mu = S @ W
        sd = np.broadcast_to(np.exp(log_std), mu.shape)
        step_no[0] += 1
        est = fs.estimate(fs.Independent(fs.Normal(mu, sd), 1), f, n, rng=step_no[0],
                          method="rloo", n_threads=1)
        return S.T @ est.grad["loc"], (est.grad["scale"] * sd).sum(axis=0)

    a0 = fs.sample(fs.Independent(fs.Normal(S @ W, np.exp(log_std)), 1), n, rng=0)
    out = {"fastscore": fs_step, "f numpy": lambda: f_np(a0)}
    if _torch_ready():
        St = torch.as_tensor(S)
        Wt = torch.as_tensor(W).requires_grad_()
        lst = torch.as_tensor(log_std).requires_grad_()
        tt = torch.as_tensor(target)

        def f_t(a):
            return -((a - tt) ** 2).sum(dim=-1)

        def torch_step():
            Wt.grad = lst.grad = None
            d = torch.distributions.Independent(torch.distributions.Normal(St @ Wt,
                                                                           lst.exp()), 1)
            a = d.sample((n,))
            r = f_t(a)
            b = (r.sum(0, keepdim=True) - r) / (n - 1)
            (-((r - b) * d.log_prob(a)).mean(0).sum()).backward()
            return Wt.grad, lst.grad

        out["torch"] = torch_step
        f_in_torch = tensor_f(f_t)
        out["fastscore, f in torch"] = lambda: fs_step(f_in_torch)
        a0t = torch.as_tensor(a0)
        out["f torch"] = lambda: f_t(a0t)
    return out


def bbvi(D=10, S=256, N=500, seed=0):
    g = np.random.default_rng(seed)
    X = g.normal(size=(N, D))
    y = (X @ g.normal(size=D) + g.normal(size=N) > 0).astype(float)
    mu, sigma = np.zeros(D), np.full(D, 0.5)

    def f_np(w):                                   # (S, D) -> (S,)
        z = w @ X.T
        return (y * z - np.logaddexp(0.0, z)).sum(axis=-1) - 0.5 * (w * w).sum(axis=-1)

    step_no = [0]

    def fs_step(f=f_np):
        step_no[0] += 1
        est = fs.estimate(fs.Independent(fs.Normal(mu, sigma), 1), f, S, rng=step_no[0],
                          method="rloo", n_threads=1)
        return est.grad["loc"], est.grad["scale"] + 1.0 / sigma

    w0 = fs.sample(fs.Independent(fs.Normal(mu, sigma), 1), S, rng=0)
    out = {"fastscore": fs_step, "f numpy": lambda: f_np(w0)}
    if _torch_ready():
        Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
        mt = torch.zeros(D, dtype=torch.float64, requires_grad=True)
        st = torch.full((D,), 0.5, dtype=torch.float64, requires_grad=True)

        def f_t(w):
            z = w @ Xt.T
            return (yt * z - torch.nn.functional.softplus(z)).sum(-1) - 0.5 * (w * w).sum(-1)

        def torch_step():
            mt.grad = st.grad = None
            d = torch.distributions.Independent(torch.distributions.Normal(mt, st), 1)
            w = d.sample((S,))
            r = f_t(w)
            b = (r.sum() - r) / (S - 1)
            (-((r - b) * d.log_prob(w)).mean() - d.entropy()).backward()
            return mt.grad, st.grad

        out["torch"] = torch_step
        f_in_torch = tensor_f(f_t)
        out["fastscore, f in torch"] = lambda: fs_step(f_in_torch)
        w0t = torch.as_tensor(w0)
        out["f torch"] = lambda: f_t(w0t)
    return out


def asian(n=20000, steps=50, seed=0):
    S0, K, r, sig, T = 100.0, 100.0, 0.05, 0.2, 1.0
    dt = T / steps
    loc = np.full(steps, (r - 0.5 * sig ** 2) * dt)
    scale = np.full(steps, sig * np.sqrt(dt))
    disc = np.exp(-r * T)

    def f_np(x):
        return disc * np.maximum(S0 * np.exp(np.cumsum(x, axis=-1)).mean(axis=-1) - K, 0.0)

    step_no = [0]

    def fs_step(f=f_np):
        step_no[0] += 1
        est = fs.estimate(fs.Independent(fs.Normal(loc, scale), 1), f, n, rng=step_no[0],
                          n_threads=1)
        return est.grad["loc"], est.grad["scale"]

    x0 = fs.sample(fs.Independent(fs.Normal(loc, scale), 1), n, rng=0)
    out = {"fastscore": fs_step, "f numpy": lambda: f_np(x0)}
    if _torch_ready():
        lt = torch.as_tensor(loc).requires_grad_()
        sct = torch.as_tensor(scale).requires_grad_()

        def f_t(x):
            return disc * torch.clamp(S0 * torch.exp(torch.cumsum(x, -1)).mean(-1) - K, min=0.0)

        def torch_step():
            lt.grad = sct.grad = None
            d = torch.distributions.Independent(torch.distributions.Normal(lt, sct), 1)
            x = d.sample((n,))
            (f_t(x) * d.log_prob(x)).mean().backward()
            return lt.grad, sct.grad

        out["torch"] = torch_step
        f_in_torch = tensor_f(f_t)
        out["fastscore, f in torch"] = lambda: fs_step(f_in_torch)
        x0t = torch.as_tensor(x0)
        out["f torch"] = lambda: f_t(x0t)
    return out


def small_draw(seed=0):
    """Build a Normal of a (16, 2) batch and draw one sample of it, as a policy does
    on every environment step: fs.sample(fs.Normal(mu, sd), 1) against torch's
    Normal(mu, sd).sample()."""
    g = np.random.default_rng(seed)
    mu, sd = g.normal(size=(16, 2)), np.full((16, 2), 0.5)
    gen = np.random.default_rng(seed)
    out = {"fastscore": lambda: fs.sample(fs.Normal(mu, sd), 1, rng=gen, n_threads=1)}
    if _torch_ready():
        mt, st = torch.as_tensor(mu), torch.as_tensor(sd)
        out["torch"] = lambda: torch.distributions.Normal(mt, st).sample()
    return out


def small_estimate(seed=0):
    """A bare REINFORCE gradient at n = 8 samples of a (16,) batch: draw, f, scores,
    leave-one-out gradient; fs.estimate against the same step in torch (sample,
    log_prob, surrogate mean, backward)."""
    g = np.random.default_rng(seed)
    mu, sd = g.normal(size=16), np.full(16, 0.5)
    n = 8

    def f_np(x):
        return -(x - 1.0) ** 2

    step_no = [0]

    def fs_step():
        step_no[0] += 1
        return fs.estimate(fs.Normal(mu, sd), f_np, n, rng=step_no[0], method="rloo",
                           n_threads=1).grad

    out = {"fastscore": fs_step}
    if _torch_ready():
        mt = torch.as_tensor(mu).requires_grad_()
        st = torch.as_tensor(sd).requires_grad_()

        def torch_step():
            mt.grad = st.grad = None
            d = torch.distributions.Normal(mt, st)
            x = d.sample((n,))
            r = -(x - 1.0) ** 2
            b = (r.sum(0, keepdim=True) - r) / (n - 1)
            ((r - b) * d.log_prob(x)).mean(0).sum().backward()
            return mt.grad, st.grad

        out["torch"] = torch_step
    return out


def surrogate(B=800, n=4, seed=0):
    """fastscore.torch.surrogate forward + backward on given actions and rewards of a
    diagonal-Gaussian policy (B states, 2-D actions, n per state, rloo), against
    torch's REINFORCE surrogate of the same (Independent(Normal).log_prob)."""
    if not _torch_ready():
        return {}
    import fastscore.torch as fs_torch

    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(B, 2, dtype=torch.float64, generator=g).requires_grad_()
    sd = (torch.rand(B, 2, dtype=torch.float64, generator=g) + 0.5).requires_grad_()
    a = torch.randn(n, B, 2, dtype=torch.float64, generator=g)
    r = -(a ** 2).sum(-1)

    def fs_step():
        mu.grad = sd.grad = None
        fs_torch.surrogate("Normal", a, r, method="rloo", loc=mu, scale=sd,
                           reinterpreted_batch_ndims=1).sum().backward()
        return mu.grad, sd.grad

    def torch_step():
        mu.grad = sd.grad = None
        d = torch.distributions.Independent(torch.distributions.Normal(mu, sd), 1)
        b = (r.sum(0, keepdim=True) - r) / (n - 1)
        ((r - b) * d.log_prob(a)).mean(0).sum().backward()
        return mu.grad, sd.grad

    return {"fastscore": fs_step, "torch": torch_step}


#: name -> (workload factory, goal: PyTorch's time / fastscore's at least this)
CALLS = {
    "build + draw a (16, 2) Normal": (small_draw, 1.0),
    "fs.estimate n=8, batch 16, rloo": (small_estimate, 1.0),
    "fastscore.torch.surrogate B=800": (surrogate, 1 / 1.2),
}

#: name -> workload factory (the report's rows)
LOOPS = {
    "policy B=800": lambda: policy(800),
    "policy B=12800": lambda: policy(12800),
    "bbvi D=10": lambda: bbvi(10),
    "bbvi D=100": lambda: bbvi(100),
    "bbvi D=1000": lambda: bbvi(1000),
    "asian 50 steps": lambda: asian(),
}
