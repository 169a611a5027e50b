"""fastscore.torch: the bridge's gradients against torch.distributions + autograd.

The reference is REINFORCE written in torch on the very samples fastscore
draws: x = fs.sample(dist, n, rng=seed), the surrogate mean(f(x) log_prob(x))
built with torch.distributions, and its autograd gradient.  With
method="plain" both compute the same sums, so they agree to 1e-10 relative.
"""

import doctest
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="PyTorch is not installed (pip install torch): the fastscore.torch bridge "
                    "is not tested")
import torch.distributions as td  # noqa: E402

import fastscore as fs  # noqa: E402
import fastscore.torch as fs_torch  # noqa: E402
from _examples import load_example  # noqa: E402

F64 = torch.float64


def leaf(a, requires_grad=True, dtype=F64):
    return torch.tensor(np.asarray(a), dtype=dtype, requires_grad=requires_grad)


def reference_grads(make_dist, params, x, fx, weights, rloo=False):
    """Autograd of sum_b w_b mean_i(f_ib log p(x_ib)) (or the rloo surrogate) on fixed samples.

    Returns (value per batch element, {name: grad}) for the params that require grad.
    """
    dist = make_dist(**params)
    xt = torch.as_tensor(x)
    lp = dist.log_prob(xt if isinstance(dist, td.Categorical) else xt.to(F64))
    fx = torch.as_tensor(fx, dtype=F64)
    n = fx.shape[0]
    if rloo:  # mean((f_i - mean_{k != i} f_k) lp_i) = sum (f_i - fbar) lp_i / (n - 1)
        terms = (fx - fx.mean(0)) * lp * (n / (n - 1))
    else:
        terms = fx * lp
    (weights * terms.mean(0)).sum().backward()
    grads = {k: v.grad.clone() for k, v in params.items()
             if isinstance(v, torch.Tensor) and v.requires_grad}
    return fx.mean(0), grads


def bridge_grads(value, params, weights):
    (weights * value).sum().backward()
    return {k: v.grad.clone() for k, v in params.items()
            if isinstance(v, torch.Tensor) and v.requires_grad}


def fresh(params):
    return {k: (v.detach().clone().requires_grad_(v.requires_grad)
                if isinstance(v, torch.Tensor) else v) for k, v in params.items()}


def numpy_params(params):
    return {k: (v.detach().numpy() if isinstance(v, torch.Tensor) else v)
            for k, v in params.items()}


def compare(assert_close, family, torch_family, f, f_numpy, params, n, seed, method="plain"):
    """The bridge's value and gradients against the torch surrogate on fs.sample's draws."""
    cls = getattr(fs, family) if isinstance(family, str) else family
    dist = cls(**numpy_params(params))
    x = fs.sample(dist, n, rng=seed)
    fx = f_numpy(x)
    weights = torch.as_tensor(np.random.default_rng(seed + 1).normal(size=dist.batch_shape))
    ref_value, ref = reference_grads(torch_family, fresh(params), x, fx, weights,
                                     rloo=method == "rloo")
    mine = fresh(params)
    value = fs_torch.expectation(family, f, n, rng=seed, method=method, **mine)
    assert value.shape == tuple(dist.batch_shape)
    assert value.dtype == F64
    got = bridge_grads(value, mine, weights)
    assert_close(value.detach().numpy(), ref_value.numpy(), rtol=1e-10, what="value")
    assert_close({k: g.numpy() for k, g in got.items()},
                 {k: g.numpy() for k, g in ref.items()}, rtol=1e-10, what=family)
    for k, g in got.items():
        assert g.shape == mine[k].shape
        assert np.all(np.isfinite(g.numpy())) and np.any(g.numpy() != 0)
    return got


def table_f(table):
    table = np.asarray(table)

    def f(x):
        return np.take_along_axis(np.broadcast_to(table, x.shape + table.shape[-1:]),
                                  x[..., None], axis=-1)[..., 0]
    return f


@pytest.mark.parametrize("method", ["plain", "rloo"])
def test_categorical_logits_with_a_batch(assert_close, method):
    rng = np.random.default_rng(0)
    table = rng.normal(size=(3, 4, 5))  # a reward table per batch element
    params = {"logits": leaf(rng.normal(size=(3, 4, 5)))}
    compare(assert_close, "Categorical", td.Categorical, fs.fn.table(table), table_f(table),
            params, 600, seed=11, method=method)


def test_categorical_probs(assert_close):
    rng = np.random.default_rng(1)
    table = rng.normal(size=4)
    params = {"probs": leaf(rng.uniform(0.2, 1.0, size=(2, 4)))}  # unnormalised, as in torch
    compare(assert_close, "Categorical", td.Categorical, fs.fn.table(table), table_f(table),
            params, 500, seed=3)


@pytest.mark.parametrize("method", ["plain", "rloo"])
def test_bernoulli_logits_with_a_python_f(assert_close, method):
    rng = np.random.default_rng(2)
    params = {"logits": leaf(rng.normal(size=6))}

    def f(x):
        return (3.0 * x - 1.0) ** 2 + 0.5

    compare(assert_close, "Bernoulli", td.Bernoulli, f, f, params, 400, seed=5, method=method)


@pytest.mark.parametrize("method", ["plain", "rloo"])
def test_normal_loc_and_scale(assert_close, method):
    params = {"loc": leaf([0.5, -1.0, 2.0, 1.5]), "scale": leaf([1.0, 0.5, 2.0, 3.0])}
    compare(assert_close, "Normal", td.Normal, fs.fn.power(2), lambda x: x ** 2, params, 1000,
            seed=7, method=method)
    compare(assert_close, fs.Normal, td.Normal, np.sin, np.sin, params, 1000, seed=8,
            method=method)


@pytest.mark.parametrize("family, torch_family, params, f", [
    ("Dirichlet", td.Dirichlet, {"concentration": [[1.0, 2.0, 3.0], [0.5, 0.5, 4.0]]},
     lambda x: x[..., 0] ** 2),
    ("MultivariateNormal", td.MultivariateNormal,
     {"loc": [0.5, -1.0], "scale_tril": [[1.0, 0.0], [0.3, 2.0]]}, lambda x: x.sum(-1) ** 2),
    ("Gamma", td.Gamma, {"concentration": [2.0, 3.0], "rate": [1.0, 0.5]}, np.log1p),
    ("Poisson", td.Poisson, {"rate": [2.0, 3.0]}, np.sqrt),
])
def test_more_families_and_event_shaped_parameters(assert_close, family, torch_family, params,
                                                   f):
    got = compare(assert_close, family, torch_family, f, f,
                  {k: leaf(v) for k, v in params.items()}, 500, seed=3)
    if family == "MultivariateNormal":  # the strict upper triangle of scale_tril: no gradient
        assert got["scale_tril"][0, 1] == 0


def test_broadcast_parameters_get_gradients_of_their_own_shape(assert_close):
    # loc (2, 1) and scale (3,) broadcast to batch_shape (2, 3): each gradient is
    # summed back over the axes its parameter was broadcast along.
    params = {"loc": leaf([[0.5], [-1.5]]), "scale": leaf([1.0, 2.0, 0.7])}
    got = compare(assert_close, "Normal", td.Normal, fs.fn.power(2), lambda x: x ** 2,
                  params, 800, seed=9)
    assert got["loc"].shape == (2, 1) and got["scale"].shape == (3,)
    # a 0-d scale with a vector loc
    params = {"loc": leaf([0.5, 1.0, -2.0]), "scale": leaf(1.5)}
    got = compare(assert_close, "Normal", td.Normal, fs.fn.power(2), lambda x: x ** 2,
                  params, 800, seed=10)
    assert got["scale"].shape == ()


def test_parameters_without_gradient(assert_close):
    loc = leaf([1.0, 2.0])
    scale = leaf([1.0, 3.0], requires_grad=False)
    value = fs_torch.expectation("Normal", fs.fn.power(2), 500, rng=1, loc=loc, scale=scale)
    value.sum().backward()
    assert scale.grad is None
    est = fs.estimate(fs.Normal([1.0, 2.0], [1.0, 3.0]), fs.fn.power(2), 500, rng=1)
    assert_close(loc.grad.numpy(), est.grad["loc"], rtol=1e-13)
    # plain numbers and numpy arrays are constants
    loc2 = leaf([1.0, 2.0])
    fs_torch.expectation("Normal", fs.fn.power(2), 500, rng=1, loc=loc2,
                         scale=np.array([1.0, 3.0])).sum().backward()
    assert_close(loc2.grad.numpy(), est.grad["loc"], rtol=1e-13)
    loc3 = leaf([1.0, 2.0])
    fs_torch.expectation("Normal", fs.fn.power(2), 500, rng=1, loc=loc3,
                         scale=2.0).sum().backward()
    assert loc3.grad.shape == (2,)
    # nothing requires grad: a plain tensor, no graph
    value = fs_torch.expectation("Normal", fs.fn.power(2), 500, rng=1, loc=[1.0, 2.0],
                                 scale=leaf([1.0, 3.0], requires_grad=False))
    assert not value.requires_grad and value.grad_fn is None
    assert_close(value.numpy(), est.value, rtol=0)


def test_total_count_passes_through(assert_close):
    total = leaf([3.0, 10.0, 7.0])  # a float tensor that requires grad, as a network may give
    params = {"total_count": total, "logits": leaf([0.3, -0.2, 1.0])}
    dist = fs.Binomial(total_count=[3, 10, 7], logits=[0.3, -0.2, 1.0])
    x = fs.sample(dist, 700, rng=4)
    fx = (x - 2.0) ** 2
    weights = torch.tensor([1.0, -0.5, 2.0], dtype=F64)
    _, ref = reference_grads(td.Binomial, {"total_count": total.detach(),
                                           "logits": leaf([0.3, -0.2, 1.0])},
                             x, fx, weights)
    value = fs_torch.expectation("Binomial", lambda x: (x - 2.0) ** 2, 700, rng=4, **params)
    (weights * value).sum().backward()
    assert total.grad is None
    assert_close(params["logits"].grad.numpy(), ref["logits"].numpy(), rtol=1e-10)


def test_surrogate_matches_autograd(assert_close):
    d = fs.Normal([0.5, 2.0, -1.0], 1.5)
    x = fs.sample(d, 300, rng=2)
    fx = x ** 2 + np.random.default_rng(0).normal(size=x.shape)  # noisy rewards
    weights = torch.tensor([1.0, 2.0, -1.0], dtype=F64)
    for method in ("plain", "rloo"):
        params = {"loc": leaf([0.5, 2.0, -1.0]), "scale": leaf(1.5)}
        ref_value, ref = reference_grads(td.Normal, fresh(params), x, fx, weights,
                                         rloo=method == "rloo")
        mine = fresh(params)
        value = fs_torch.surrogate("Normal", torch.as_tensor(x), torch.as_tensor(fx),
                                   method=method, **mine)
        got = bridge_grads(value, mine, weights)
        assert_close(value.detach().numpy(), ref_value.numpy(), rtol=1e-12)
        assert_close({k: v.numpy() for k, v in got.items()},
                     {k: v.numpy() for k, v in ref.items()}, rtol=1e-10, what=method)


def test_surrogate_with_integer_samples_and_rewards_that_require_grad(assert_close):
    logits = leaf(np.random.default_rng(5).normal(size=(4, 3)))
    x = fs.sample(fs.Categorical(logits=logits.detach().numpy()), 50, rng=6)
    fx = torch.as_tensor(np.cos(x) + 1.0, dtype=F64).requires_grad_()
    value = fs_torch.surrogate("Categorical", torch.as_tensor(x), fx, logits=logits)
    value.sum().backward()
    assert fx.grad is None  # rewards are data
    leaf2 = logits.detach().clone().requires_grad_()
    (fx.detach() * td.Categorical(logits=leaf2).log_prob(torch.as_tensor(x))).mean(0) \
        .sum().backward()
    assert_close(logits.grad.numpy(), leaf2.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("method", ["plain", "baseline", "rloo", "cv"])
def test_every_method_is_fastscores_estimate(assert_close, method):
    loc, scale = np.array([0.3, 1.0]), np.array([1.0, 2.0])
    kw = {"baseline": np.array([0.5, 4.0])} if method == "baseline" else {}
    est = fs.estimate(fs.Normal(loc, scale), fs.fn.power(2), 3000, rng=12, method=method, **kw)
    tl, ts = leaf(loc), leaf(scale)
    if method == "baseline":
        kw = {"baseline": torch.tensor([0.5, 4.0])}  # a tensor baseline is read as numbers
    value = fs_torch.expectation("Normal", fs.fn.power(2), 3000, rng=12, method=method,
                                 loc=tl, scale=ts, **kw)
    value.sum().backward()
    assert_close(value.detach().numpy(), est.value, rtol=0)
    assert_close(tl.grad.numpy(), est.grad["loc"], rtol=0)
    assert_close(ts.grad.numpy(), est.grad["scale"], rtol=0)


def test_baseline_method_against_autograd(assert_close):
    d = fs.Bernoulli(logits=[0.2, -1.0])
    x = fs.sample(d, 400, rng=13)
    b = np.array([0.7, -0.3])
    fx = 2.0 * x - 0.5
    logits = leaf([0.2, -1.0])
    lp = td.Bernoulli(logits=logits).log_prob(torch.as_tensor(x, dtype=F64))
    ((torch.as_tensor(fx - b, dtype=F64) * lp).mean(0)).sum().backward()
    mine = leaf([0.2, -1.0])
    fs_torch.expectation("Bernoulli", fs.fn.linear(2.0, -0.5), 400, rng=13, method="baseline",
                         baseline=b, logits=mine).sum().backward()
    assert_close(mine.grad.numpy(), logits.grad.numpy(), rtol=1e-10)


def test_dtypes_and_devices_follow_the_parameters():
    loc = torch.tensor([0.5, 1.0], dtype=torch.float32, requires_grad=True)
    scale = torch.tensor(2.0, dtype=torch.float32, requires_grad=True)
    value = fs_torch.expectation("Normal", fs.fn.power(2), 200, rng=0, loc=loc, scale=scale)
    assert value.dtype == torch.float32 and value.device == loc.device
    value.sum().backward()
    assert loc.grad.dtype == torch.float32 and scale.grad.dtype == torch.float32
    est = fs.estimate(fs.Normal(loc.detach().double().numpy(), 2.0), fs.fn.power(2), 200,
                      rng=0)
    np.testing.assert_array_equal(loc.grad.numpy(), est.grad["loc"].astype(np.float32))
    # mixed float32 / float64 parameters promote; no floating tensor -> default dtype
    v = fs_torch.expectation("Normal", fs.fn.power(2), 200, rng=0, loc=loc,
                             scale=torch.tensor(2.0, dtype=F64))
    assert v.dtype == F64
    v = fs_torch.expectation("Poisson", fs.fn.power(1), 200, rng=0, rate=torch.tensor(3))
    assert v.dtype == torch.get_default_dtype()


def test_torch_generator_as_rng(assert_close):
    g1 = torch.Generator().manual_seed(123)
    g2 = torch.Generator().manual_seed(123)
    a = fs_torch.expectation("Normal", fs.fn.power(2), 300, rng=g1, loc=leaf(0.5), scale=1.0)
    b = fs_torch.expectation("Normal", fs.fn.power(2), 300, rng=g2, loc=leaf(0.5), scale=1.0)
    assert a.item() == b.item()
    seed = int(torch.randint(0, 2 ** 63 - 1, (), generator=torch.Generator().manual_seed(123)))
    est = fs.estimate(fs.Normal(0.5, 1.0), fs.fn.power(2), 300, rng=seed)
    assert a.item() == float(est.value)
    c = fs_torch.expectation("Normal", fs.fn.power(2), 300, rng=g1, loc=leaf(0.5), scale=1.0)
    assert c.item() != a.item()  # the generator advanced


def test_one_fastscore_call_per_forward_and_backward(monkeypatch):
    calls = []
    real = fs.estimate

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(fs, "estimate", counting)
    logits = leaf(np.zeros((5, 3)))
    value = fs_torch.expectation("Categorical", fs.fn.table([0.0, 1.0, 3.0]), 64, rng=0,
                                 logits=logits)
    value.sum().backward()
    assert len(calls) == 1


def test_backward_twice_accumulates(assert_close):
    loc = leaf([1.0, -0.5])
    value = fs_torch.expectation("Normal", fs.fn.power(3), 256, rng=3, loc=loc, scale=1.0)
    value.sum().backward(retain_graph=True)
    first = loc.grad.clone()
    value.sum().backward()
    assert_close(loc.grad.numpy(), 2 * first.numpy(), rtol=1e-15)
    # a scalar multiple of the output scales the gradient (grad_output is used)
    loc2 = leaf([1.0, -0.5])
    (3.0 * fs_torch.expectation("Normal", fs.fn.power(3), 256, rng=3, loc=loc2,
                                scale=1.0)).sum().backward()
    assert_close(loc2.grad.numpy(), 3 * first.numpy(), rtol=1e-15)


@pytest.mark.parametrize("family, error, says", [
    ("Categorial", ValueError, "'Categorial'.*did you mean 'Categorical'"),
    ("normal", ValueError, "'normal'.*did you mean 'Normal'"),
    ("Weibull", ValueError, "unknown distribution family 'Weibull'"),
    (42, TypeError, "family must be .* got 42"),
    (np.random.Generator, TypeError, "family must be"),
    (fs.Distribution, TypeError, "family must be"),
])
def test_unknown_family_is_a_clear_error(family, error, says):
    with pytest.raises(error, match=says):
        fs_torch.expectation(family, fs.fn.power(2), 10, rng=0, loc=leaf(0.0), scale=1.0)
    with pytest.raises(error, match=says):
        fs_torch.surrogate(family, np.zeros(3), np.zeros(3), loc=leaf(0.0), scale=1.0)


def test_torch_distribution_class_is_refused_with_a_hint():
    with pytest.raises(TypeError, match="family must be a distribution family name"):
        fs_torch.expectation(td.Normal, fs.fn.power(2), 10, rng=0, loc=leaf(0.0), scale=1.0)


def test_parameter_errors_name_the_parameter():
    with pytest.raises(TypeError, match="Normal: unknown parameter 'sigma'; its parameters "
                                        "are loc, scale"):
        fs_torch.expectation("Normal", fs.fn.power(2), 10, rng=0, loc=leaf(0.0), sigma=1.0)
    with pytest.raises(TypeError, match="Normal: parameter 'scale' is required"):
        fs_torch.expectation("Normal", fs.fn.power(2), 10, rng=0, loc=leaf(0.0))
    with pytest.raises(ValueError, match="Normal: parameter 'scale' must be > 0; got -1.0"):
        fs_torch.expectation("Normal", fs.fn.power(2), 10, rng=0, loc=leaf(0.0),
                             scale=leaf(-1.0))
    with pytest.raises(ValueError, match="method must be one of"):
        fs_torch.expectation("Normal", fs.fn.power(2), 10, rng=0, method="bogus",
                             loc=leaf(0.0), scale=1.0)
    with pytest.raises(ValueError, match="method='baseline' needs baseline="):
        fs_torch.expectation("Normal", fs.fn.power(2), 10, rng=0, method="baseline",
                             loc=leaf(0.0), scale=1.0)
    with pytest.raises(ValueError, match="fx must have shape"):
        fs_torch.surrogate("Normal", torch.zeros(4), torch.zeros(5), loc=leaf(0.0), scale=1.0)
    with pytest.raises(TypeError, match="parameter 'loc' must be real numbers"):
        fs_torch.expectation("Normal", fs.fn.power(2), 10, rng=0,
                             loc=torch.zeros(2, dtype=torch.complex128), scale=1.0)


def test_validate_args_passes_through():
    # validate_args=False skips the construction checks, as for fs.Normal; drawing still checks
    with pytest.raises(ValueError, match="'scale' must be > 0"):
        fs_torch.expectation("Normal", fs.fn.power(2), 10, rng=0, loc=leaf(0.0),
                             scale=leaf(-1.0), validate_args=False)
    v = fs_torch.expectation("Normal", fs.fn.power(2), 10, rng=0, loc=leaf(0.0), scale=1.0,
                             validate_args=False)
    assert v.shape == ()


# ---------------------------------------------------------------------------
# Training: the bandit of examples/bandit_policy_gradient.py, and a contextual one
def bandit_example():
    return load_example("bandit_policy_gradient")


def test_torch_reinforce_loop_trains_the_example_bandit(assert_close):
    example = bandit_example()
    steps, samples, lr = 150, 128, 2.0
    history_np, probs_np, means = example.train(steps=steps, samples=samples, lr=lr, seed=0)
    logits = torch.zeros(10, dtype=F64, requires_grad=True)
    opt = torch.optim.SGD([logits], lr=lr, maximize=True)
    history = []
    for step in range(steps):  # the example's seeds: seed * 100_003 + step with seed 0
        opt.zero_grad()
        value = fs_torch.expectation("Categorical", fs.fn.table(means), samples, rng=step,
                                     method="rloo", logits=logits)
        value.backward()
        opt.step()
        history.append(value.item())
    probs = torch.softmax(logits.detach(), 0).numpy()
    best = int(np.argmax(means))
    assert probs[best] > 0.9
    assert history[-1] > 0.95 * means[best] > history[0]
    # the same arithmetic as the NumPy loop of the example
    assert_close(np.array(history), history_np, rtol=1e-9)
    assert_close(probs, probs_np, rtol=1e-9)


def test_torch_policy_network_learns_a_contextual_bandit():
    # 64 states, 4 arms; the best arm depends on the state; a linear policy network.
    gen = np.random.default_rng(0)
    states = gen.normal(size=(64, 3))
    w_true = gen.normal(size=(3, 4))
    rewards = np.exp(states @ w_true)
    rewards /= rewards.sum(axis=1, keepdims=True)  # per state, reward of each arm in (0, 1)
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 4).double()
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    s = torch.as_tensor(states)
    table = fs.fn.table(rewards)
    start = None
    for step in range(150):
        opt.zero_grad()
        value = fs_torch.expectation("Categorical", table, 16, rng=step, method="rloo",
                                     logits=net(s))
        loss = -value.mean()
        loss.backward()
        opt.step()
        start = value.mean().item() if start is None else start
    probs = torch.softmax(net(s), -1).detach().numpy()
    expected = float((probs * rewards).sum(1).mean())
    best = float(rewards.max(1).mean())
    assert expected > start + 0.5 * (best - start)  # more than half of the gap closed
    assert np.mean(probs.argmax(1) == rewards.argmax(1)) > 0.8


# ---------------------------------------------------------------------------
def test_docstring_examples():
    result = doctest.testmod(fs_torch, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_fastscore_imports_without_torch_and_the_bridge_says_what_is_missing(tmp_path):
    # One fresh interpreter: `import fastscore` does not import torch; with torch made
    # unimportable, `import fastscore.torch` is an ImportError saying what to install.
    code = ("import sys\n"
            "import fastscore\n"
            "assert 'torch' not in sys.modules, 'torch imported by fastscore'\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'torch':\n"
            "            raise ModuleNotFoundError(name, name=name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "try:\n"
            "    import fastscore.torch\n"
            "except ImportError as exc:\n"
            "    print(exc)\n")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(fs.__file__)))
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True).stdout
    assert "fastscore.torch needs PyTorch (pip install torch)" in out, out


def test_joint_distribution_options():
    """reinterpreted_batch_ndims= and transforms=: fs.estimate's gradients of the same
    Independent / TransformedDistribution, in the parameters' shapes."""
    loc = leaf(np.linspace(-1.0, 1.0, 6).reshape(2, 3))
    scale = leaf(np.full((2, 3), 0.8))

    def f(x):
        return np.tanh(x).sum(axis=-1) ** 2

    tr = [fs.transforms.TanhTransform()]
    value = fs_torch.expectation("Normal", lambda y: (y.sum(-1)) ** 2, 2000, rng=3,
                                 method="rloo", loc=loc, scale=scale,
                                 reinterpreted_batch_ndims=1, transforms=tr)
    assert value.shape == (2,)
    value.sum().backward()
    est = fs.estimate(fs.TransformedDistribution(
        fs.Independent(fs.Normal(loc.detach().numpy(), scale.detach().numpy()), 1), tr),
        lambda y: (y.sum(-1)) ** 2, 2000, rng=3, method="rloo")
    np.testing.assert_allclose(value.detach().numpy(), est.value, rtol=1e-12)
    np.testing.assert_allclose(loc.grad.numpy(), est.grad["loc"], rtol=1e-12)
    np.testing.assert_allclose(scale.grad.numpy(), est.grad["scale"], rtol=1e-12)
    # surrogate on samples of the joint
    d = fs.Independent(fs.Normal(loc.detach().numpy(), scale.detach().numpy()), 1)
    x = fs.sample(d, 50, rng=1)
    loc.grad = None
    fs_torch.surrogate("Normal", torch.as_tensor(x), torch.as_tensor(f(x)), loc=loc,
                       scale=scale, reinterpreted_batch_ndims=1).sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(),
                               fs.estimate_from_samples(d, x, f(x)).grad["loc"], rtol=1e-12)


def test_joint_family_as_a_dict():
    """family={part: family}: an fs.Joint, parameters by part, gradients into each tensor."""
    loc = leaf(np.array([0.5, -0.5, 1.0]))
    rate = leaf(np.array(1.5))

    def f(x):
        return x["tau"] * (x["w"] ** 2).sum(axis=-1)

    value = fs_torch.expectation({"w": "Normal", "tau": fs.Gamma}, f, 5000, rng=2, method="rloo",
                                 w=dict(loc=loc, scale=1.0, reinterpreted_batch_ndims=1),
                                 tau=dict(concentration=2.0, rate=rate))
    value.backward()
    d = fs.Joint({"w": fs.Independent(fs.Normal(loc.detach().numpy(), 1.0), 1),
                  "tau": fs.Gamma(2.0, rate.detach().numpy())})
    est = fs.estimate(d, f, 5000, rng=2, method="rloo")
    np.testing.assert_allclose(value.detach().numpy(), est.value, rtol=1e-12)
    np.testing.assert_allclose(loc.grad.numpy(), est.grad["w"]["loc"], rtol=1e-12)
    np.testing.assert_allclose(rate.grad.numpy(), est.grad["tau"]["rate"], rtol=1e-12)
    with pytest.raises(TypeError, match="part 'tau'"):
        fs_torch.expectation({"w": "Normal", "tau": "Gamma"}, f, 10, rng=0,
                             w=dict(loc=loc, scale=1.0), tau=dict(concentration=2.0, bad=1.0))


# -- every estimator, its standard errors, the joint distributions (issue 26) --------------
from bridge_cases import ESTIMATORS, WRAPS, build, expected_stderr, flat, lookup  # noqa: E402
from bridge_cases import param_names  # noqa: E402


def is_tensor(v):
    return isinstance(v, torch.Tensor)


@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("estimator", list(ESTIMATORS))
def test_every_estimator_and_its_stderr_is_fastscores_estimate(estimator, wrap):
    """Value, gradients and standard errors through the bridge equal fs.estimate's on the
    same rng (to 1e-12), for every estimator, alone and through Independent,
    TransformedDistribution and Joint; where fs.estimate refuses a combination, the bridge
    refuses it with the same error."""
    family, kwargs, dist, f, options = build(estimator, wrap, lambda a: leaf(a))
    try:
        if isinstance(dist, Exception):
            f = np.sin
            raise dist
        est = fs.estimate(dist, f, 300, rng=5, **options)
    except (NotImplementedError, ValueError, TypeError) as exc:
        with pytest.raises(type(exc), match=None) as got:
            fs_torch.expectation(family, f, 300, rng=5, **options, **kwargs)
        assert str(got.value) == str(exc)
        assert wrap != "plain" and estimator != "score"
        return
    value, se = fs_torch.expectation(family, f, 300, rng=5, return_stderr=True, **options,
                                     **kwargs)
    assert value.requires_grad and not any(t.requires_grad for t in se.values())
    weights = torch.as_tensor(np.random.default_rng(1).normal(size=np.shape(est.value)))
    (weights * value).sum().backward()
    np.testing.assert_allclose(value.detach().numpy(), est.value, rtol=1e-12, atol=0)
    names = param_names(dist)
    assert sorted(se) == sorted(["value"] + names)
    want = expected_stderr(est, names)
    for k in se:
        assert se[k].dtype == F64 and se[k].shape == want[k].shape, k
        np.testing.assert_allclose(se[k].numpy(), want[k], rtol=1e-12, atol=0, err_msg=k)
    leaves = flat(kwargs, is_tensor)
    assert leaves
    for k, t in leaves.items():
        g = lookup(est.grad, k)
        w = weights.numpy().reshape(weights.shape + (1,) * (g.ndim - weights.ndim))
        np.testing.assert_allclose(t.grad.numpy(), w * g, rtol=1e-12, atol=0, err_msg=k)
    # the default return is the value alone, the same number
    again = fs_torch.expectation(family, f, 300, rng=5, **options, **build(
        estimator, wrap, lambda a: leaf(a))[1])
    assert isinstance(again, torch.Tensor)
    np.testing.assert_array_equal(again.detach().numpy(), value.detach().numpy())


def test_every_estimator_has_a_case():
    from fastscore._kinds import KINDS

    assert set(ESTIMATORS) == set(KINDS)


def test_precision_targets_and_cov():
    loc, scale = leaf([0.5, -1.0]), leaf([1.0, 2.0])
    value, se = fs_torch.expectation("Normal", fs.fn.power(2), 1024, rng=3, method="cv",
                                     rtol=0.05, max_n=2 ** 16, cov=True, return_stderr=True,
                                     loc=loc, scale=scale)
    value.sum().backward()
    est = fs.estimate(fs.Normal([0.5, -1.0], [1.0, 2.0]), fs.fn.power(2), 1024, rng=3,
                      method="cv", rtol=0.05, max_n=2 ** 16, cov=True)
    assert est.converged and est.n > 1024
    np.testing.assert_allclose(value.detach().numpy(), est.value, rtol=1e-12)
    np.testing.assert_allclose(loc.grad.numpy(), est.grad["loc"], rtol=1e-12)
    np.testing.assert_allclose(scale.grad.numpy(), est.grad["scale"], rtol=1e-12)
    np.testing.assert_allclose(se["scale"].numpy(), est.stderr["scale"], rtol=1e-12)
    assert se["cov"].shape == (2, 2, 2)
    np.testing.assert_allclose(se["cov"].numpy(), est.cov, rtol=1e-12)
    assert torch.all(se["loc"] <= 0.05 * loc.grad.abs())
    # n may be left out with a target, as in fs.estimate
    v2 = fs_torch.expectation("Normal", fs.fn.power(2), rng=3, atol=0.05, loc=loc, scale=scale)
    est2 = fs.estimate(fs.Normal([0.5, -1.0], [1.0, 2.0]), fs.fn.power(2), rng=3, atol=0.05)
    np.testing.assert_allclose(v2.detach().numpy(), est2.value, rtol=1e-12)
    # cov of a Joint: its components in fs.estimate's order
    loc = leaf([0.5, -0.5])
    value, se = fs_torch.expectation(
        {"w": "Normal", "tau": "Gamma"}, lambda x: x["tau"] * (x["w"] ** 2).sum(-1), 500,
        rng=2, method="rloo", cov=True, return_stderr=True,
        w=dict(loc=loc, scale=1.0, reinterpreted_batch_ndims=1),
        tau=dict(concentration=2.0, rate=leaf(1.5)))
    est = fs.estimate(fs.Joint({"w": fs.Independent(fs.Normal([0.5, -0.5], 1.0), 1),
                                "tau": fs.Gamma(2.0, 1.5)}),
                      lambda x: x["tau"] * (x["w"] ** 2).sum(-1), 500, rng=2, method="rloo",
                      cov=True)
    np.testing.assert_allclose(se["cov"].numpy(), est.cov, rtol=1e-12)
    assert sorted(se) == ["cov", "tau.concentration", "tau.rate", "value", "w.loc", "w.scale"]


def test_option_errors_are_clear():
    loc = leaf([0.5, -1.0])
    with pytest.raises(ValueError, match="return_stderr=True"):
        fs_torch.expectation("Normal", fs.fn.power(2), 100, rng=0, cov=True, loc=loc, scale=1.0)
    with pytest.raises(ValueError, match="estimator must be one of"):
        fs_torch.expectation("Normal", fs.fn.power(2), 100, rng=0, estimator="reparam",
                             loc=loc, scale=1.0)
    with pytest.raises(ValueError, match="takes method='plain' only"):
        fs_torch.expectation("Normal", fs.fn.power(2), 100, rng=0, estimator="pathwise",
                             method="rloo", loc=loc, scale=1.0)
    with pytest.raises(ValueError, match="temperature is only used with"):
        fs_torch.expectation("Normal", fs.fn.power(2), 100, rng=0, temperature=0.5,
                             loc=loc, scale=1.0)
    with pytest.raises(TypeError, match="n must be given"):
        fs_torch.expectation("Normal", fs.fn.power(2), rng=0, loc=loc, scale=1.0)
    with pytest.raises(TypeError, match="needs the derivative of f"):
        fs_torch.expectation("Normal", np.sin, 100, rng=0, estimator="pathwise", loc=loc,
                             scale=1.0)
    with pytest.raises(ValueError, match="grad_f is only used"):
        fs_torch.expectation("Normal", np.sin, 100, rng=0, grad_f=np.cos, loc=loc, scale=1.0)
    with pytest.raises(NotImplementedError, match="has no covariance yet"):
        fs_torch.expectation("Bernoulli", fs.fn.linear(1.0, 0.0), 100, rng=0,
                             estimator="rebar", cov=True, return_stderr=True,
                             logits=leaf([0.1, 0.2]))


def test_tensor_options_and_the_relaxed_families_temperature():
    """temperature / eta / baseline as tensors are values; RelaxedBernoulli's temperature=
    is the family's parameter."""
    logits = leaf([0.3, -0.2])
    value = fs_torch.expectation("Bernoulli", fs.fn.linear(2.0, 0.0), 400, rng=1,
                                 estimator="concrete", temperature=torch.tensor(0.5),
                                 logits=logits)
    value.sum().backward()
    est = fs.estimate(fs.Bernoulli(logits=[0.3, -0.2]), fs.fn.linear(2.0, 0.0), 400, rng=1,
                      estimator="concrete", temperature=0.5)
    np.testing.assert_allclose(logits.grad.numpy(), est.grad["logits"], rtol=1e-12)
    logits.grad = None
    fs_torch.expectation("Bernoulli", fs.fn.linear(2.0, 0.0), 400, rng=1, estimator="rebar",
                         eta=torch.tensor([0.7, 0.9], dtype=F64), logits=logits).sum().backward()
    est = fs.estimate(fs.Bernoulli(logits=[0.3, -0.2]), fs.fn.linear(2.0, 0.0), 400, rng=1,
                      estimator="rebar", eta=np.array([0.7, 0.9]))
    np.testing.assert_allclose(logits.grad.numpy(), est.grad["logits"], rtol=1e-12)
    logits.grad = None
    v, se = fs_torch.expectation("RelaxedBernoulli", lambda y: y ** 2, 400, rng=1,
                                 temperature=0.5, logits=logits, return_stderr=True)
    v.sum().backward()
    est = fs.estimate(fs.RelaxedBernoulli(0.5, logits=[0.3, -0.2]), lambda y: y ** 2, 400,
                      rng=1)
    np.testing.assert_allclose(logits.grad.numpy(), est.grad["logits"], rtol=1e-12)
    assert sorted(se) == ["logits", "value"]


@pytest.mark.parametrize("method", ["plain", "baseline", "rloo", "cv"])
@pytest.mark.parametrize("wrap", ["plain", "independent", "transformed", "joint"])
def test_surrogate_stderr_is_estimate_from_samples(method, wrap):
    family, kwargs, dist, f, _ = build("score", wrap, lambda a: leaf(a))
    x = fs.sample(dist, 64, rng=4)
    fx = f(x) + np.random.default_rng(0).normal(size=np.shape(f(x)))
    kw = {"baseline": np.full(np.shape(fx)[1:], 0.3)} if method == "baseline" else {}
    est = fs.estimate_from_samples(dist, x, fx, method=method, **kw)
    xt = ({k: torch.as_tensor(v) for k, v in x.items()} if isinstance(x, dict)
          else torch.as_tensor(x))
    value, se = fs_torch.surrogate(family, xt, torch.as_tensor(fx), method=method,
                                   return_stderr=True, **kw, **kwargs)
    value.sum().backward()
    np.testing.assert_allclose(value.detach().numpy(), est.value, rtol=1e-12)
    want = expected_stderr(est, param_names(dist))
    assert sorted(se) == sorted(want)
    for k in se:
        np.testing.assert_allclose(se[k].numpy(), want[k], rtol=1e-12, atol=0, err_msg=k)
    for k, t in flat(kwargs, is_tensor).items():
        np.testing.assert_allclose(t.grad.numpy(), lookup(est.grad, k), rtol=1e-12, atol=0)


def test_surrogate_says_what_it_refuses():
    x = torch.as_tensor(fs.sample(fs.Normal(0.0, 1.0), 10, rng=0))
    with pytest.raises(ValueError, match="estimator='score' only"):
        fs_torch.surrogate("Normal", x, x ** 2, estimator="pathwise", loc=leaf(0.0), scale=1.0)
    for opt in ("rtol", "cov", "grad_f", "n_threads", "temperature"):
        with pytest.raises(TypeError, match="%s= is an option of expectation" % opt):
            fs_torch.surrogate("Normal", x, x ** 2, loc=leaf(0.0), scale=1.0, **{opt: 0.1})


# -- f written in torch (issue 26, item 2) -------------------------------------------------
def test_a_tensor_f_gets_a_writable_tensor_of_its_own_without_a_warning(monkeypatch):
    seen = []

    def f(x):
        seen.append(x)
        return x * x + 3.0 * x

    d = fs.Normal(np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.5, 2.0]))
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("error")
        est = fs.estimate(d, fs_torch.tensor_f(f), 1000, rng=3, method="rloo")
    assert len(seen) == 1                       # once per wave
    x = seen[0]
    assert isinstance(x, torch.Tensor) and x.dtype == F64 and x.shape == (1000, 3)
    arr = x.numpy()                              # shares the NumPy buffer f owns
    assert arr.flags.writeable and arr.flags.c_contiguous
    np.testing.assert_array_equal(arr, fs.sample(d, 1000, rng=3))
    want = fs.estimate(d, lambda x: x * x + 3.0 * x, 1000, rng=3, method="rloo")
    np.testing.assert_array_equal(est.value, want.value)
    np.testing.assert_array_equal(est.grad["loc"], want.grad["loc"])


@pytest.mark.parametrize("backend", ["compiled", "reference"])
@pytest.mark.parametrize("estimator, wrap", [
    ("score", "plain"), ("score", "independent"), ("score", "transformed"), ("score", "joint"),
    ("pathwise", "plain"), ("pathwise", "joint"), ("measure", "plain"),
    ("measure", "independent"), ("arm", "plain"), ("indecater", "independent"),
    ("vimco", "plain"), ("concrete", "plain"), ("rebar", "independent")])
def test_an_f_that_writes_into_its_input_does_not_change_the_estimate(estimator, wrap,
                                                                       backend):
    """A tensor f that scribbles over its samples after using them gives the estimate of
    the same f that does not, bit for bit, on the same rng."""
    _, _, dist, _, options = build(estimator, wrap, lambda a: a)

    def of(d, op):   # op(x) of each coordinate, summed over the event (a Joint's parts too)
        if isinstance(d, fs.Joint):
            parts = {nm: of(p, op) for nm, p in d.parts.items()}
            return lambda x: sum(parts[nm](x[nm]) for nm in parts)
        k = len(d.event_shape)

        def f(x):
            y = op(x.to(F64))
            return y.sum(tuple(range(y.ndim - k, y.ndim))) if k else y
        return f

    pure = of(dist, torch.sin)

    def scribble(x):
        for t in (x.values() if isinstance(x, dict) else [x]):
            t.mul_(-7).add_(11)                  # in place, after use

    def vandal(x):
        y = pure(x)
        scribble(x)
        return y

    if "grad_f" in options:   # f' too, written in torch, pure and vandal
        def cos(x):
            return {k: torch.cos(v) for k, v in x.items()} if isinstance(x, dict) \
                else torch.cos(x)

        def cos_vandal(x):
            y = {k: v.clone() for k, v in cos(x).items()} if isinstance(x, dict) else cos(x)
            scribble(x)
            return y

        options_a = dict(options, grad_f=fs_torch.tensor_f(cos))
        options_b = dict(options, grad_f=fs_torch.tensor_f(cos_vandal))
    else:
        options_a = options_b = options
    a = fs.estimate(dist, fs_torch.tensor_f(pure), 256, rng=9, backend=backend, **options_a)
    b = fs.estimate(dist, fs_torch.tensor_f(vandal), 256, rng=9, backend=backend, **options_b)
    np.testing.assert_array_equal(a.value, b.value)
    for k in param_names(dist):
        np.testing.assert_array_equal(lookup(a.grad, k), lookup(b.grad, k))
        np.testing.assert_array_equal(lookup(a.stderr, k), lookup(b.stderr, k))


def test_a_tensor_f_is_called_once_per_wave_and_may_keep_its_samples(monkeypatch):
    from fastscore import _compiled

    monkeypatch.setattr(_compiled, "PYTHON_WAVE_BUDGET", 2 * fs.CHUNK_SIZE * 2)
    d = fs.Normal(np.zeros(2), 1.0)
    n = 4 * fs.CHUNK_SIZE
    kept, numpy_calls = [], []

    def f(x):
        kept.append(x)
        return x ** 2

    def g(x):
        numpy_calls.append(x.copy())
        return x ** 2

    a = fs.estimate(d, fs_torch.tensor_f(f), n, rng=1)
    b = fs.estimate(d, g, n, rng=1)
    assert len(kept) == len(numpy_calls) > 1
    for t, x in zip(kept, numpy_calls):           # unchanged by later waves
        np.testing.assert_array_equal(t.numpy(), x)
    np.testing.assert_array_equal(np.concatenate([t.numpy() for t in kept]),
                                  fs.sample(d, n, rng=1))
    np.testing.assert_array_equal(a.grad["scale"], b.grad["scale"])


def test_pathwise_with_a_tensor_f_takes_its_derivative_from_autograd():
    d = fs.Independent(fs.Normal(np.array([[0.5, -1.0, 2.0], [0.0, 1.0, 0.3]]), 0.8), 1)
    w = torch.tensor([1.0, -2.0, 0.5], dtype=F64)

    def f(x):
        return (w * x * x).sum(-1) + (x[..., 0] * x[..., 1])

    def f_np(x):
        return (w.numpy() * x * x).sum(-1) + x[..., 0] * x[..., 1]

    def g_np(x):
        g = 2.0 * w.numpy() * x
        g[..., 0] += x[..., 1]
        g[..., 1] += x[..., 0]
        return g

    a = fs.estimate(d, fs_torch.tensor_f(f), 500, rng=2, estimator="pathwise")
    b = fs.estimate(d, f_np, 500, rng=2, estimator="pathwise", grad_f=g_np)
    np.testing.assert_allclose(a.grad["loc"], b.grad["loc"], rtol=1e-12)
    np.testing.assert_allclose(a.grad["scale"], b.grad["scale"], rtol=1e-12)
    # a torch grad_f of its own; and through the bridge, with a Joint
    c = fs.estimate(d, fs_torch.tensor_f(f), 500, rng=2, estimator="pathwise",
                    grad_f=fs_torch.tensor_f(lambda x: torch.from_numpy(g_np(x.numpy()))))
    np.testing.assert_allclose(c.grad["loc"], b.grad["loc"], rtol=1e-12)
    loc = leaf([0.5, -0.5])
    value = fs_torch.expectation(
        {"w": "Normal", "tau": "Gamma"},
        fs_torch.tensor_f(lambda x: x["tau"] * (x["w"] ** 2).sum(-1)), 400, rng=2,
        estimator="pathwise", w=dict(loc=loc, scale=1.0, reinterpreted_batch_ndims=1),
        tau=dict(concentration=2.0, rate=1.5))
    value.backward()
    est = fs.estimate(fs.Joint({"w": fs.Independent(fs.Normal([0.5, -0.5], 1.0), 1),
                                "tau": fs.Gamma(2.0, 1.5)}),
                      lambda x: x["tau"] * (x["w"] ** 2).sum(-1), 400, rng=2,
                      estimator="pathwise",
                      grad_f=lambda x: {"w": 2.0 * x["tau"][:, None] * x["w"],
                                        "tau": (x["w"] ** 2).sum(-1)})
    np.testing.assert_allclose(loc.grad.numpy(), est.grad["w"]["loc"], rtol=1e-12)


def test_a_module_is_a_tensor_f_and_f_may_return_float32_or_a_graph():
    net = torch.nn.Linear(3, 1).double()
    d = fs.Independent(fs.Normal(np.zeros(3), 1.0), 1)

    def as_module(x):
        return net(x)[..., 0]

    class Head(torch.nn.Module):
        def forward(self, x):
            return as_module(x)

    a = fs.estimate(d, Head(), 300, rng=0)       # recognised without tensor_f
    b = fs.estimate(d, fs_torch.tensor_f(as_module), 300, rng=0)
    np.testing.assert_array_equal(a.grad["loc"], b.grad["loc"])
    loc = leaf(np.zeros(3))
    fs_torch.expectation("Normal", Head(), 300, rng=0, loc=loc, scale=1.0,
                         reinterpreted_batch_ndims=1).backward()
    np.testing.assert_allclose(loc.grad.numpy(), a.grad["loc"], rtol=1e-12)
    assert net.weight.grad is None               # no graph through f
    c = fs.estimate(d, fs_torch.tensor_f(lambda x: as_module(x).float()), 300, rng=0)
    np.testing.assert_allclose(c.value, a.value, rtol=1e-6)
    assert repr(fs_torch.tensor_f(as_module)).startswith("TensorF(")
    with pytest.raises(TypeError, match="callable taking torch arrays"):
        fs_torch.tensor_f(3.0)


def test_tensor_f_through_the_bridge_equals_the_numpy_f():
    loc, scale = leaf([0.5, -1.0, 2.0]), leaf([1.0, 0.5, 2.0])
    v, se = fs_torch.expectation("Normal", fs_torch.tensor_f(lambda x: x * x + 3.0 * x), 2000,
                                 rng=4, method="cv", return_stderr=True, loc=loc, scale=scale)
    v.sum().backward()
    est = fs.estimate(fs.Normal([0.5, -1.0, 2.0], [1.0, 0.5, 2.0]),
                      lambda x: x * x + 3.0 * x, 2000, rng=4, method="cv")
    np.testing.assert_array_equal(loc.grad.numpy(), est.grad["loc"])
    np.testing.assert_array_equal(se["scale"].numpy(), est.stderr["scale"])
