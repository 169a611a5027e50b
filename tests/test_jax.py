"""fastscore.jax: the bridge's gradients against jax.grad of hand-written log-densities.

The reference is REINFORCE in JAX on the very samples fastscore draws:
x = fs.sample(dist, n, rng=seed), the surrogate mean(f(x) log p(x)) with a
hand-written log p, and jax.grad of it.  With method="plain" both compute
the same sums, so they agree to 1e-10 relative.  The tests run with JAX's
x64 mode on (a context, restored afterwards), except where they check the
float32 path.
"""

import doctest
import math
import os
import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip(
    "jax", reason="JAX is not installed (pip install jax): the fastscore.jax bridge is not tested")
import jax.numpy as jnp  # noqa: E402

import fastscore as fs  # noqa: E402
import fastscore.jax as fs_jax  # noqa: E402
from _examples import load_example  # noqa: E402


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


# hand-written log-densities (the constants do not matter for the gradient)
def lp_categorical(x, logits):
    return jnp.take_along_axis(jax.nn.log_softmax(logits, axis=-1)[None], x[..., None],
                               axis=-1)[..., 0]


def lp_bernoulli(x, logits):
    return x * logits - jax.nn.softplus(logits)


def lp_normal(x, loc, scale):
    return -0.5 * ((x - loc) / scale) ** 2 - jnp.log(scale) - 0.5 * math.log(2 * math.pi)


def lp_binomial(x, total_count, logits):
    return x * logits - total_count * jax.nn.softplus(logits)


def reference(log_prob, x, fx, weights, params, rloo=False):
    """(value, grads) of sum_b w_b mean_i(f_ib log p(x_ib)) (or its rloo form) by jax.grad."""
    x = jnp.asarray(x)
    fx = jnp.asarray(fx)
    n = fx.shape[0]
    coef = (fx - fx.mean(0)) * (n / (n - 1)) if rloo else fx

    def sur(p):
        return jnp.sum(weights * jnp.mean(coef * log_prob(x, **p), axis=0))

    grads = jax.jit(jax.grad(sur))(params)  # one compilation, not one per operation
    return np.asarray(fx.mean(0)), {k: np.asarray(v) for k, v in grads.items()}


def compare(assert_close, family, log_prob, f, f_numpy, params, n, seed, method="plain",
            jit=False):
    """The bridge's value and gradients (by jax.value_and_grad) against the reference."""
    cls = getattr(fs, family) if isinstance(family, str) else family
    dist = cls(**{k: np.asarray(v) for k, v in params.items()})
    x = fs.sample(dist, n, rng=seed)
    weights = jnp.asarray(np.random.default_rng(seed + 1).normal(size=dist.batch_shape))
    ref_value, ref = reference(log_prob, x, f_numpy(x), weights, params, rloo=method == "rloo")

    def objective(p, s):
        value = fs_jax.expectation(family, f, n, rng=s, method=method, **p)
        return jnp.sum(weights * value), value

    run = jax.value_and_grad(objective, has_aux=True)
    if jit:  # the seed then is a traced int32 scalar
        (_, value), grads = jax.jit(run)(params, jnp.int32(seed))
    else:
        (_, value), grads = run(params, seed)
    assert value.shape == tuple(dist.batch_shape) and value.dtype == jnp.float64
    assert_close(np.asarray(value), ref_value, rtol=1e-10, what="value")
    got = {k: np.asarray(v) for k, v in grads.items()}
    assert_close(got, ref, rtol=1e-10, what=str(family))
    for k, g in got.items():
        assert g.shape == np.shape(params[k]) and np.all(np.isfinite(g)) and np.any(g != 0)
    return got


def table_f(table):
    table = np.asarray(table)

    def f(x):
        return np.take_along_axis(np.broadcast_to(table, x.shape + table.shape[-1:]),
                                  x[..., None], axis=-1)[..., 0]
    return f


@pytest.mark.parametrize("method", ["plain", "rloo"])
@pytest.mark.parametrize("jit", [False, True])
def test_categorical_logits_with_a_batch(assert_close, method, jit):
    rng = np.random.default_rng(0)
    table = rng.normal(size=(3, 4, 5))
    params = {"logits": jnp.asarray(rng.normal(size=(3, 4, 5)))}
    compare(assert_close, "Categorical", lp_categorical, fs.fn.table(table), table_f(table),
            params, 600, seed=11, method=method, jit=jit)


@pytest.mark.parametrize("method", ["plain", "rloo"])
def test_bernoulli_logits_with_a_python_f(assert_close, method):
    params = {"logits": jnp.asarray(np.random.default_rng(2).normal(size=6))}

    def f(x):
        return (3.0 * x - 1.0) ** 2 + 0.5

    compare(assert_close, "Bernoulli", lp_bernoulli, f, f, params, 400, seed=5, method=method,
            jit=True)


@pytest.mark.parametrize("method", ["plain", "rloo"])
def test_normal_loc_and_scale(assert_close, method):
    params = {"loc": jnp.array([0.5, -1.0, 2.0, 1.5]), "scale": jnp.array([1.0, 0.5, 2.0, 3.0])}
    compare(assert_close, "Normal", lp_normal, fs.fn.power(2), lambda x: x ** 2, params, 1000,
            seed=7, method=method)
    compare(assert_close, fs.Normal, lp_normal, np.sin, np.sin, params, 1000, seed=8,
            method=method, jit=True)


def test_broadcast_parameters_get_gradients_of_their_own_shape(assert_close):
    params = {"loc": jnp.array([[0.5], [-1.5]]), "scale": jnp.array([1.0, 2.0, 0.7])}
    got = compare(assert_close, "Normal", lp_normal, fs.fn.power(2), lambda x: x ** 2, params,
                  800, seed=9, jit=True)
    assert got["loc"].shape == (2, 1) and got["scale"].shape == (3,)
    params = {"loc": jnp.array([0.5, 1.0, -2.0]), "scale": jnp.array(1.5)}
    got = compare(assert_close, "Normal", lp_normal, fs.fn.power(2), lambda x: x ** 2, params,
                  800, seed=10)
    assert got["scale"].shape == ()


def test_constants_and_total_count_get_no_gradient(assert_close):
    est = fs.estimate(fs.Normal([1.0, 2.0], [1.0, 3.0]), fs.fn.power(2), 500, rng=1)
    for scale in (np.array([1.0, 3.0]), [1.0, 3.0]):  # numpy and Python values are constants
        g = jax.grad(lambda loc: fs_jax.expectation("Normal", fs.fn.power(2), 500, rng=1,
                                                    loc=loc, scale=scale).sum())(
            jnp.array([1.0, 2.0]))
        assert_close(np.asarray(g), est.grad["loc"], rtol=1e-13)
    # total_count: traced (an int or a float array) but passed through with a zero cotangent
    dist = fs.Binomial(total_count=[3, 10, 7], logits=[0.3, -0.2, 1.0])
    x = fs.sample(dist, 700, rng=4)
    weights = jnp.array([1.0, -0.5, 2.0])
    _, ref = reference(lp_binomial, x, (x - 2.0) ** 2, weights,
                       {"total_count": jnp.array([3.0, 10.0, 7.0]),
                        "logits": jnp.array([0.3, -0.2, 1.0])})

    def objective(total, logits):
        return jnp.sum(weights * fs_jax.expectation("Binomial", lambda x: (x - 2.0) ** 2, 700,
                                                    rng=4, total_count=total, logits=logits))

    g_total, g_logits = jax.jit(jax.grad(objective, argnums=(0, 1)))(
        jnp.array([3.0, 10.0, 7.0]), jnp.array([0.3, -0.2, 1.0]))
    assert_close(np.asarray(g_logits), ref["logits"], rtol=1e-10)
    np.testing.assert_array_equal(np.asarray(g_total), 0.0)
    g = jax.grad(lambda logits: objective(jnp.array([3, 10, 7]), logits))(
        jnp.array([0.3, -0.2, 1.0]))
    assert_close(np.asarray(g), ref["logits"], rtol=1e-10)


def test_surrogate_under_jit(assert_close):
    d = fs.Normal([0.5, 2.0, -1.0], 1.5)
    x = fs.sample(d, 300, rng=2)
    fx = x ** 2 + np.random.default_rng(0).normal(size=x.shape)  # noisy rewards
    weights = jnp.array([1.0, 2.0, -1.0])
    params = {"loc": jnp.array([0.5, 2.0, -1.0]), "scale": jnp.array(1.5)}
    for method in ("plain", "rloo"):
        ref_value, ref = reference(lp_normal, x, fx, weights, params, rloo=method == "rloo")

        def objective(p, xs, fxs):
            value = fs_jax.surrogate("Normal", xs, fxs, method=method, **p)
            return jnp.sum(weights * value), value

        (_, value), (grads, g_fx) = jax.jit(jax.value_and_grad(
            objective, argnums=(0, 2), has_aux=True))(params, jnp.asarray(x), jnp.asarray(fx))
        assert_close(np.asarray(value), ref_value, rtol=1e-12)
        assert_close({k: np.asarray(v) for k, v in grads.items()}, ref, rtol=1e-10, what=method)
        np.testing.assert_array_equal(np.asarray(g_fx), 0.0)  # rewards are data
    # NumPy samples and rewards are constants of the trace; integer samples of a Categorical
    logits = jnp.asarray(np.random.default_rng(5).normal(size=(4, 3)))
    xc = fs.sample(fs.Categorical(logits=np.asarray(logits)), 50, rng=6)
    fxc = np.cos(xc) + 1.0
    _, ref = reference(lp_categorical, xc, fxc, jnp.ones(4), {"logits": logits})
    g = jax.grad(lambda z: fs_jax.surrogate("Categorical", xc, fxc, logits=z).sum())(logits)
    assert_close(np.asarray(g), ref["logits"], rtol=1e-10)


@pytest.mark.parametrize("method", ["plain", "baseline", "rloo", "cv"])
def test_every_method_is_fastscores_estimate(assert_close, method):
    loc, scale = np.array([0.3, 1.0]), np.array([1.0, 2.0])
    kw = {"baseline": np.array([0.5, 4.0])} if method == "baseline" else {}
    est = fs.estimate(fs.Normal(loc, scale), fs.fn.power(2), 3000, rng=12, method=method, **kw)
    if method == "baseline":
        kw = {"baseline": jnp.array([0.5, 4.0])}  # traced

    def objective(p):
        value = fs_jax.expectation("Normal", fs.fn.power(2), 3000, rng=12, method=method,
                                   **p, **kw)
        return value.sum(), value

    (_, value), g = jax.jit(jax.value_and_grad(objective, has_aux=True))(
        {"loc": jnp.asarray(loc), "scale": jnp.asarray(scale)})
    assert_close(np.asarray(value), est.value, rtol=0)
    assert_close(np.asarray(g["loc"]), est.grad["loc"], rtol=0)
    assert_close(np.asarray(g["scale"]), est.grad["scale"], rtol=0)


@pytest.mark.parametrize("family, params, f", [
    ("Dirichlet", {"concentration": [[1.0, 2.0, 3.0], [0.5, 0.5, 4.0]]},
     lambda x: x[..., 0] ** 2),
    ("MultivariateNormal", {"loc": [0.5, -1.0], "scale_tril": [[1.0, 0.0], [0.3, 2.0]]},
     lambda x: x.sum(-1) ** 2),
    ("Gamma", {"concentration": [2.0, 3.0], "rate": [1.0, 0.5]}, np.log1p),
    ("Poisson", {"rate": [2.0, 3.0]}, np.sqrt),
    ("Geometric", {"logits": [0.3, -1.0]}, lambda x: np.minimum(x, 4.0)),
])
def test_more_families_and_event_shaped_parameters(assert_close, family, params, f):
    est = fs.estimate(getattr(fs, family)(**params), f, 400, rng=4)
    grads = jax.jit(jax.grad(lambda p, s: fs_jax.expectation(family, f, 400, rng=s, **p).sum()))(
        {k: jnp.asarray(v) for k, v in params.items()}, jnp.int32(4))
    assert_close({k: np.asarray(v) for k, v in grads.items()},
                 {k: est.grad[k].reshape(np.shape(params[k])) for k in params}, rtol=1e-13)


def normal_value(rng, n=300):
    return float(fs_jax.expectation("Normal", fs.fn.power(2), n, rng=rng, loc=0.5,
                                    scale=jnp.array(1.0)))


def test_rng_kinds():
    def fs_value(rng):
        return float(fs.estimate(fs.Normal(0.5, 1.0), fs.fn.power(2), 300, rng=rng).value)

    assert normal_value(7) == normal_value(np.int64(7)) == fs_value(7)
    # a traced int32 seed is the same int seed
    traced = jax.jit(lambda s: fs_jax.expectation("Normal", fs.fn.power(2), 300, rng=s,
                                                  loc=0.5, scale=jnp.array(1.0)))
    assert float(traced(jnp.int32(7))) == fs_value(7)
    assert float(traced(jnp.int32(8))) == fs_value(8) != fs_value(7)
    # keys: their words seed a SeedSequence
    key = jax.random.key(42)
    words = [int(w) for w in np.asarray(jax.random.key_data(key)).ravel()]
    expected = fs_value(np.random.SeedSequence(words))
    assert normal_value(key) == normal_value(jax.random.PRNGKey(42)) == expected
    assert float(jax.jit(lambda k: fs_jax.expectation(
        "Normal", fs.fn.power(2), 300, rng=k, loc=0.5, scale=jnp.array(1.0)))(key)) == expected
    k1, k2 = jax.random.split(key)
    assert normal_value(k1) != normal_value(k2)


@pytest.mark.parametrize("rng, error, says", [
    (None, TypeError, "JAX functions are pure: pass the seed explicitly"),
    (True, TypeError, "rng must be an int seed"),
    (1.5, TypeError, "rng must be an int seed.*got float"),
    (np.random.default_rng(0), TypeError, "rng must be an int seed.*got Generator"),
    (-1, ValueError, "rng: an integer seed must be non-negative, got -1"),
    (np.array([-1, 2]), ValueError, "must be non-negative integers"),
])
def test_rng_errors(rng, error, says):
    with pytest.raises(error, match=says):
        normal_value(rng)
    with pytest.raises(TypeError, match="rng must be an int seed.*float32"):
        normal_value(jnp.float32(1.0))


def test_traced_negative_seed_fails_when_run():
    f = jax.jit(lambda s: fs_jax.expectation("Normal", fs.fn.power(2), 30, rng=s, loc=0.5,
                                             scale=jnp.array(1.0)))
    with pytest.raises(Exception, match="must be non-negative integers"):
        jax.block_until_ready(f(jnp.int32(-3)))


def test_one_fastscore_call_per_forward(monkeypatch):
    calls = []
    real = fs.estimate

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(fs, "estimate", counting)

    def value(logits, seed):
        return fs_jax.expectation("Categorical", fs.fn.table([0.0, 1.0, 3.0]), 64, rng=seed,
                                  logits=logits).sum()

    logits = jnp.zeros((5, 3))
    step = jax.jit(jax.value_and_grad(value))
    for i in range(3):
        jax.block_until_ready(step(logits, jnp.int32(i)))
    assert len(calls) == 3
    jax.block_until_ready(jax.value_and_grad(value)(logits, 0))  # eagerly
    jax.block_until_ready(jax.jit(value)(logits, jnp.int32(0)))  # no gradient
    assert len(calls) == 5


def compilations(run):
    """The number of XLA compilations JAX logs while ``run()`` runs."""
    import logging

    seen = []

    class Handler(logging.Handler):
        def emit(self, record):
            if record.getMessage().startswith("Compiling"):
                seen.append(record.getMessage())

    logger = logging.getLogger("jax")
    handler, level = Handler(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        with jax.log_compiles(True):
            run()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return len(seen)


def test_eager_grad_loop_compiles_once():
    f = fs.fn.table([0.0, 1.0, 3.0])
    grad = jax.grad(lambda z, s: fs_jax.expectation("Categorical", f, 64, rng=s,
                                                    logits=z).sum())
    grad(jnp.zeros(3), 0)

    def loop():
        for seed in range(1, 4):  # new seeds, same f: the compiled callback is reused
            jax.block_until_ready(grad(jnp.zeros(3), seed))

    assert compilations(loop) == 0

    def fresh_f_each_time():
        for seed in range(1, 3):
            g = fs.fn.table([0.0, 1.0, 3.0])
            jax.block_until_ready(jax.grad(lambda z: fs_jax.expectation(
                "Categorical", g, 64, rng=seed, logits=z).sum())(jnp.zeros(3)))

    assert compilations(fresh_f_each_time) >= 2  # what the reuse saves


def test_reused_callbacks_never_mix_up_constants(assert_close):
    # Under jax.grad (the callback path), calls differing only in constants or f.
    def grad_loc(f, scale, n=200):
        return np.asarray(jax.grad(lambda loc: fs_jax.expectation(
            "Normal", f, n, rng=5, loc=loc, scale=scale).sum())(jnp.array([0.5, 1.0])))

    def expected(f, scale, n=200):
        return fs.estimate(fs.Normal([0.5, 1.0], scale), f, n, rng=5).grad["loc"]

    square, cube = fs.fn.power(2), fs.fn.power(3)
    scale = np.array([1.0, 2.0])
    first = grad_loc(square, scale)
    assert_close(first, expected(square, scale), rtol=1e-13)
    scale[1] = 3.0  # the same array, changed in place: a different constant
    assert_close(grad_loc(square, scale), expected(square, [1.0, 3.0]), rtol=1e-13)
    assert_close(grad_loc(square, 2.0), expected(square, 2.0), rtol=1e-13)
    assert_close(grad_loc(cube, [1.0, 2.0]), expected(cube, [1.0, 2.0]), rtol=1e-13)
    assert_close(grad_loc(square, [1.0, 2.0], n=300), expected(square, [1.0, 2.0], n=300),
                 rtol=1e-13)
    assert_close(grad_loc(square, [1.0, 2.0]), first, rtol=0)


def test_vmap_over_seeds_is_one_call_each(assert_close):
    seeds = jnp.arange(4, dtype=jnp.int32)

    def grad_loc(seed):
        return jax.grad(lambda loc: fs_jax.expectation("Normal", fs.fn.power(2), 200, rng=seed,
                                                       loc=loc, scale=1.0))(jnp.array(0.5))

    got = np.asarray(jax.jit(jax.vmap(grad_loc))(seeds))
    expected = [fs.estimate(fs.Normal(0.5, 1.0), fs.fn.power(2), 200, rng=s).grad["loc"]
                for s in range(4)]
    assert_close(got, np.array(expected), rtol=1e-13)


def test_float32_without_x64(assert_close):
    with jax.enable_x64(False):
        loc = jnp.array([0.5, 1.0])  # float32
        value, g = jax.jit(jax.value_and_grad(
            lambda z, s: fs_jax.expectation("Normal", fs.fn.power(2), 500, rng=s, loc=z,
                                            scale=2.0).sum()))(loc, jnp.int32(3))
        assert value.dtype == jnp.float32 and g.dtype == jnp.float32
    est = fs.estimate(fs.Normal(np.float32([0.5, 1.0]).astype(np.float64), 2.0),
                      fs.fn.power(2), 500, rng=3)
    # computed in float64 and rounded once to float32
    np.testing.assert_array_equal(np.asarray(g), est.grad["loc"].astype(np.float32))
    assert_close(float(value), float(est.value.sum()), rtol=1e-7)


def test_float32_parameters_with_x64_give_float32():
    v = fs_jax.expectation("Normal", fs.fn.power(2), 100, rng=0, loc=jnp.float32(0.5),
                           scale=jnp.float64(1.0))
    assert v.dtype == jnp.float64  # promoted
    v = fs_jax.expectation("Normal", fs.fn.power(2), 100, rng=0, loc=jnp.float32(0.5),
                           scale=jnp.float32(1.0))
    assert v.dtype == jnp.float32
    v = fs_jax.expectation("Poisson", fs.fn.power(1), 100, rng=0, rate=jnp.array(3))
    assert v.dtype == jnp.float64  # no floating parameter: JAX's default float


@pytest.mark.parametrize("family, error, says", [
    ("Categorial", ValueError, "'Categorial'.*did you mean 'Categorical'"),
    ("Weibull", ValueError, "unknown distribution family 'Weibull'"),
    (3.0, TypeError, "family must be .* got 3.0"),
    (fs.Distribution, TypeError, "family must be"),
])
def test_unknown_family_is_a_clear_error(family, error, says):
    with pytest.raises(error, match=says):
        fs_jax.expectation(family, fs.fn.power(2), 10, rng=0, loc=jnp.array(0.0), scale=1.0)
    with pytest.raises(error, match=says):
        fs_jax.surrogate(family, np.zeros(3), np.zeros(3), loc=jnp.array(0.0), scale=1.0)


def test_parameter_errors():
    with pytest.raises(TypeError, match="Normal: unknown parameter 'sigma'"):
        fs_jax.expectation("Normal", fs.fn.power(2), 10, rng=0, loc=jnp.array(0.0), sigma=1.0)
    with pytest.raises(TypeError, match="Normal: parameter 'scale' is required"):
        fs_jax.expectation("Normal", fs.fn.power(2), 10, rng=0, loc=jnp.array(0.0))
    with pytest.raises(ValueError, match="method must be one of"):
        fs_jax.expectation("Normal", fs.fn.power(2), 10, rng=0, method="bogus",
                           loc=jnp.array(0.0), scale=1.0)
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        fs_jax.expectation("Normal", fs.fn.power(2), 1, rng=0, loc=jnp.array(0.0), scale=1.0)
    with pytest.raises(ValueError, match="Normal: parameters do not broadcast"):
        jax.jit(lambda z: fs_jax.expectation("Normal", fs.fn.power(2), 10, rng=0, loc=z,
                                             scale=jnp.ones(3)))(jnp.zeros(2))
    with pytest.raises(ValueError, match="fx must have shape"):
        fs_jax.surrogate("Normal", jnp.zeros(4), jnp.zeros(5), loc=jnp.array(0.0), scale=1.0)
    # concrete values are checked at the call, with fastscore's message
    with pytest.raises(ValueError, match="Normal: parameter 'scale' must be > 0; got -1.0"):
        fs_jax.expectation("Normal", fs.fn.power(2), 10, rng=0, loc=jnp.array(0.0),
                           scale=jnp.array(-1.0))
    # traced values only when the computation runs: the same message, wrapped by JAX
    f = jax.jit(lambda s: fs_jax.expectation("Normal", fs.fn.power(2), 10, rng=0, loc=0.0,
                                             scale=s))
    with pytest.raises(Exception, match="Normal: parameter 'scale' must be > 0; got -1.0"):
        jax.block_until_ready(f(jnp.array(-1.0)))


# ---------------------------------------------------------------------------
def bandit_example():
    return load_example("bandit_policy_gradient")


def test_jit_loop_trains_the_example_bandit(assert_close):
    example = bandit_example()
    steps, samples, lr = 150, 128, 2.0
    history_np, probs_np, means = example.train(steps=steps, samples=samples, lr=lr, seed=0)
    table = fs.fn.table(means)

    @jax.jit
    def step(logits, seed):
        value, g = jax.value_and_grad(lambda z: fs_jax.expectation(
            "Categorical", table, samples, rng=seed, method="rloo", logits=z))(logits)
        return logits + lr * g, value

    logits = jnp.zeros(10)
    history = []
    for i in range(steps):  # the example's seeds: seed * 100_003 + step with seed 0
        logits, value = step(logits, jnp.int32(i))
        history.append(float(value))
    probs = np.asarray(jax.nn.softmax(logits))
    best = int(np.argmax(means))
    assert probs[best] > 0.9
    assert history[-1] > 0.95 * means[best] > history[0]
    assert_close(np.array(history), history_np, rtol=1e-9)
    assert_close(probs, probs_np, rtol=1e-9)


def test_fori_loop_trains_the_example_bandit_with_keys():
    # the whole loop compiled: keys split inside lax.fori_loop, float32 (x64 off)
    means = bandit_example().train(steps=0)[2]
    table = fs.fn.table(means)
    with jax.enable_x64(False):
        def body(i, carry):
            logits, key = carry
            key, sub = jax.random.split(key)
            g = jax.grad(lambda z: fs_jax.expectation("Categorical", table, 128, rng=sub,
                                                      method="rloo", logits=z))(logits)
            return logits + 2.0 * g, key

        logits, _ = jax.jit(lambda k: jax.lax.fori_loop(0, 150, body, (jnp.zeros(10), k)))(
            jax.random.key(0))
        assert logits.dtype == jnp.float32
    probs = np.asarray(jax.nn.softmax(logits))
    assert int(np.argmax(probs)) == int(np.argmax(means)) and probs.max() > 0.9


# ---------------------------------------------------------------------------
def test_docstring_examples():
    with jax.enable_x64(False):  # the examples show JAX's default float32
        result = doctest.testmod(fs_jax, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_fastscore_imports_without_jax_and_the_bridge_says_what_is_missing(tmp_path):
    # One fresh interpreter: `import fastscore` does not import jax; with jax made
    # unimportable, `import fastscore.jax` is an ImportError saying what to install.
    code = ("import sys\n"
            "import fastscore\n"
            "assert 'jax' not in sys.modules, 'jax imported by fastscore'\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'jax':\n"
            "            raise ModuleNotFoundError(name, name=name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "try:\n"
            "    import fastscore.jax\n"
            "except ImportError as exc:\n"
            "    print(exc)\n")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(fs.__file__)))
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True).stdout
    assert "fastscore.jax needs JAX (pip install jax)" in out, out


def test_joint_distribution_options():
    """reinterpreted_batch_ndims= and transforms= under jit: fs.estimate's gradients."""
    loc = jnp.asarray(np.linspace(-1.0, 1.0, 6).reshape(2, 3))
    scale = jnp.full((2, 3), 0.8)
    tr = [fs.transforms.TanhTransform()]

    def f(y):
        return y.sum(-1) ** 2

    def total(lc, sc):
        return fs_jax.expectation("Normal", f, 2000, rng=3, method="rloo", loc=lc, scale=sc,
                                  reinterpreted_batch_ndims=1, transforms=tr).sum()

    g_loc, g_scale = jax.jit(jax.grad(total, argnums=(0, 1)))(loc, scale)
    est = fs.estimate(fs.TransformedDistribution(
        fs.Independent(fs.Normal(np.asarray(loc, dtype=np.float64),
                                 np.asarray(scale, dtype=np.float64)), 1), tr),
        f, 2000, rng=3, method="rloo")
    np.testing.assert_allclose(np.asarray(g_loc), est.grad["loc"], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(g_scale), est.grad["scale"], rtol=1e-5)


def test_joint_family_as_a_dict():
    """family={part: family}: an fs.Joint under jit, gradients into each part's arrays."""
    def f(x):
        return x["tau"] * (x["w"] ** 2).sum(axis=-1)

    def total(loc, rate):
        return fs_jax.expectation({"w": "Normal", "tau": "Gamma"}, f, 5000, rng=2,
                                  method="rloo",
                                  w=dict(loc=loc, scale=1.0, reinterpreted_batch_ndims=1),
                                  tau=dict(concentration=2.0, rate=rate)).sum()

    loc, rate = jnp.asarray([0.5, -0.5, 1.0]), jnp.asarray(1.5)
    g_loc, g_rate = jax.jit(jax.grad(total, argnums=(0, 1)))(loc, rate)
    d = fs.Joint({"w": fs.Independent(fs.Normal(np.asarray(loc, dtype=np.float64), 1.0), 1),
                  "tau": fs.Gamma(2.0, float(rate))})
    est = fs.estimate(d, f, 5000, rng=2, method="rloo")
    np.testing.assert_allclose(np.asarray(g_loc), est.grad["w"]["loc"], rtol=1e-5)
    np.testing.assert_allclose(float(g_rate), est.grad["tau"]["rate"], rtol=1e-5)


def test_a_new_f_on_every_traced_call_warns(monkeypatch):
    """An f built inside an eagerly differentiated loss registers a new host callback each
    call (JAX keeps them all): past CALLABLES_WARN distinct f objects the bridge warns."""
    monkeypatch.setattr(fs_jax, "_SEEN_CALLABLES", set())
    monkeypatch.setattr(fs_jax, "_WARNED", [])
    monkeypatch.setattr(fs_jax, "CALLABLES_WARN", 5)
    fs_list = [(lambda x, k=k: x * x + k) for k in range(7)]   # distinct objects, all alive

    def loss(loc, f):
        return fs_jax.expectation("Normal", f, 8, rng=0, loc=loc, scale=1.0).sum()

    with pytest.warns(RuntimeWarning, match="different f objects"):
        for f in fs_list:
            jax.grad(loss)(jnp.zeros(2), f)
    # one f, however many calls: no warning
    monkeypatch.setattr(fs_jax, "_SEEN_CALLABLES", set())
    monkeypatch.setattr(fs_jax, "_WARNED", [])
    import warnings as _w
    with _w.catch_warnings():
        _w.simplefilter("error", RuntimeWarning)
        for _ in range(7):
            jax.grad(loss)(jnp.zeros(2), fs_list[0])


# -- every estimator, its standard errors, the joint distributions (issue 26) --------------
from bridge_cases import ESTIMATORS, WRAPS, build, expected_stderr, flat, lookup  # noqa: E402
from bridge_cases import param_names  # noqa: E402


def is_jax_array(v):
    return isinstance(v, jax.Array)


def _with_flat(kwargs, values):
    """The bridge kwargs with the framework arrays replaced by ``values`` (by flat name)."""
    out = {}
    for k, v in kwargs.items():
        if isinstance(v, dict):
            out[k] = {p: values.get("%s.%s" % (k, p), t) for p, t in v.items()}
        else:
            out[k] = values.get(k, v)
    return out


@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("estimator", list(ESTIMATORS))
def test_every_estimator_and_its_stderr_is_fastscores_estimate(estimator, wrap):
    """Under jax.jit(jax.value_and_grad): value, gradients and standard errors equal
    fs.estimate's on the same rng (to 1e-12), for every estimator, alone and through
    Independent, TransformedDistribution and Joint; eagerly too.  Where fs.estimate refuses
    a combination, the bridge refuses it with the same error when traced."""
    family, kwargs, dist, f, options = build(estimator, wrap, jnp.asarray)
    arrays = flat(kwargs, is_jax_array)
    assert arrays

    def loss(p, w):
        value, se = fs_jax.expectation(family, f, 300, rng=5, return_stderr=True, **options,
                                       **_with_flat(kwargs, p))
        return jnp.sum(w * value), (value, se)

    try:
        if isinstance(dist, Exception):
            raise dist
        est = fs.estimate(dist, f, 300, rng=5, **options)
    except (NotImplementedError, ValueError, TypeError) as exc:
        assert wrap != "plain" and estimator != "score"
        with pytest.raises(type(exc)) as got:
            jax.jit(jax.grad(loss, has_aux=True))(arrays, 1.0)
        # traced, the message shows stand-ins for the parameters' values: the rule's words
        assert str(got.value).rsplit(")", 1)[-1] == str(exc).rsplit(")", 1)[-1]
        with pytest.raises(type(exc)) as got:
            fs_jax.expectation(family, f, 300, rng=5, **options, **kwargs)
        assert str(got.value) == str(exc)
        return
    weights = jnp.asarray(np.random.default_rng(1).normal(size=np.shape(est.value)))
    (_, (value, se)), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(arrays, weights)
    np.testing.assert_allclose(np.asarray(value), est.value, rtol=1e-12, atol=0)
    names = param_names(dist)
    want = expected_stderr(est, names)
    assert sorted(se) == sorted(want)
    for k in se:
        assert se[k].dtype == jnp.float64 and se[k].shape == want[k].shape, k
        np.testing.assert_allclose(np.asarray(se[k]), want[k], rtol=1e-12, atol=0, err_msg=k)
    for k in arrays:
        g = lookup(est.grad, k)
        w = np.asarray(weights).reshape(weights.shape + (1,) * (g.ndim - weights.ndim))
        np.testing.assert_allclose(np.asarray(grads[k]), w * g, rtol=1e-12, atol=0, err_msg=k)
    # eagerly (concrete arrays: fastscore called directly), and the value alone
    value2, se2 = fs_jax.expectation(family, f, 300, rng=5, return_stderr=True, **options,
                                     **kwargs)
    np.testing.assert_array_equal(np.asarray(value2), np.asarray(value))
    for k in se:
        np.testing.assert_array_equal(np.asarray(se2[k]), np.asarray(se[k]))
    alone = jax.jit(lambda p: fs_jax.expectation(family, f, 300, rng=5, **options,
                                                 **_with_flat(kwargs, p)))(arrays)
    np.testing.assert_array_equal(np.asarray(alone), np.asarray(value))


def test_precision_targets_and_cov_under_jit():
    @jax.jit
    def run(loc, scale):
        def loss(p):
            v, se = fs_jax.expectation("Normal", fs.fn.power(2), rng=3, method="cv", rtol=0.01,
                                       max_n=2 ** 18, cov=True, return_stderr=True, **p)
            return v.sum(), (v, se)
        return jax.grad(loss, has_aux=True)({"loc": loc, "scale": scale})

    g, (v, se) = run(jnp.asarray([0.5, -1.0]), jnp.asarray([1.0, 2.0]))
    est = fs.estimate(fs.Normal([0.5, -1.0], [1.0, 2.0]), fs.fn.power(2), rng=3, method="cv",
                      rtol=0.01, max_n=2 ** 18, cov=True)
    assert est.converged and est.n > fs.CHUNK_SIZE * 4   # more than one wave
    np.testing.assert_allclose(np.asarray(v), est.value, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g["loc"]), est.grad["loc"], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(se["scale"]), est.stderr["scale"], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(se["cov"]), est.cov, rtol=1e-12)
    assert se["cov"].shape == (2, 2, 2)


def test_option_errors_are_clear_when_traced():
    def call(**kw):
        return jax.jit(lambda loc: fs_jax.expectation("Normal", fs.fn.power(2), rng=0,
                                                      loc=loc, scale=1.0, **kw))(jnp.zeros(2))

    with pytest.raises(ValueError, match="return_stderr=True"):
        call(n=100, cov=True)
    with pytest.raises(ValueError, match="estimator must be one of"):
        call(n=100, estimator="reparam")
    with pytest.raises(TypeError, match="n must be given"):
        call()
    with pytest.raises(TypeError, match="needs the derivative of f"):
        jax.jit(lambda loc: fs_jax.expectation("Normal", np.sin, 100, rng=0, loc=loc,
                                               scale=1.0, estimator="pathwise"))(jnp.zeros(2))
    with pytest.raises(NotImplementedError, match="no measure slot"):
        jax.jit(lambda loc: fs_jax.expectation(
            {"a": "Normal", "b": "Normal"}, lambda x: x["a"] + x["b"], 100, rng=0,
            estimator="measure", a=dict(loc=loc, scale=1.0),
            b=dict(loc=0.0, scale=1.0)))(jnp.zeros(()))


def test_traced_temperature_and_eta_are_values():
    @jax.jit
    def grad(logits, t, e):
        a = jax.grad(lambda l: fs_jax.expectation(
            "Bernoulli", fs.fn.linear(2.0, 0.0), 400, rng=1, estimator="concrete",
            temperature=t, logits=l).sum())(logits)
        b = jax.grad(lambda l: fs_jax.expectation(
            "Bernoulli", fs.fn.linear(2.0, 0.0), 400, rng=1, estimator="rebar", eta=e,
            logits=l).sum())(logits)
        return a, b

    a, b = grad(jnp.asarray([0.3, -0.2]), jnp.asarray(0.5), jnp.asarray([0.7, 0.9]))
    d = fs.Bernoulli(logits=[0.3, -0.2])
    ea = fs.estimate(d, fs.fn.linear(2.0, 0.0), 400, rng=1, estimator="concrete",
                     temperature=0.5)
    eb = fs.estimate(d, fs.fn.linear(2.0, 0.0), 400, rng=1, estimator="rebar",
                     eta=np.array([0.7, 0.9]))
    np.testing.assert_allclose(np.asarray(a), ea.grad["logits"], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(b), eb.grad["logits"], rtol=1e-12)
    # RelaxedBernoulli: temperature= is the family's own parameter
    v = fs_jax.expectation("RelaxedBernoulli", lambda y: y ** 2, 400, rng=1, temperature=0.5,
                           logits=jnp.asarray([0.3, -0.2]))
    est = fs.estimate(fs.RelaxedBernoulli(0.5, logits=[0.3, -0.2]), lambda y: y ** 2, 400,
                      rng=1)
    np.testing.assert_allclose(np.asarray(v), est.value, rtol=1e-12)


@pytest.mark.parametrize("method", ["plain", "baseline", "rloo", "cv"])
@pytest.mark.parametrize("wrap", ["plain", "independent", "transformed", "joint"])
def test_surrogate_stderr_is_estimate_from_samples(method, wrap):
    family, kwargs, dist, f, _ = build("score", wrap, jnp.asarray)
    x = fs.sample(dist, 64, rng=4)
    fx = f(x) + np.random.default_rng(0).normal(size=np.shape(f(x)))
    kw = {"baseline": np.full(np.shape(fx)[1:], 0.3)} if method == "baseline" else {}
    est = fs.estimate_from_samples(dist, x, fx, method=method, **kw)
    arrays = flat(kwargs, is_jax_array)
    xs = x if isinstance(x, dict) else jnp.asarray(x)

    def loss(p):
        v, se = fs_jax.surrogate(family, xs, jnp.asarray(fx), method=method,
                                 return_stderr=True, **kw, **_with_flat(kwargs, p))
        return v.sum(), (v, se)

    g, (value, se) = jax.jit(jax.grad(loss, has_aux=True))(arrays)
    np.testing.assert_allclose(np.asarray(value), est.value, rtol=1e-12)
    want = expected_stderr(est, param_names(dist))
    assert sorted(se) == sorted(want)
    for k in se:
        np.testing.assert_allclose(np.asarray(se[k]), want[k], rtol=1e-12, atol=0, err_msg=k)
    for k in arrays:
        np.testing.assert_allclose(np.asarray(g[k]), lookup(est.grad, k), rtol=1e-12, atol=0)


def test_surrogate_says_what_it_refuses():
    x = fs.sample(fs.Normal(0.0, 1.0), 10, rng=0)
    with pytest.raises(ValueError, match="estimator='score' only"):
        fs_jax.surrogate("Normal", x, x ** 2, estimator="vimco", loc=jnp.zeros(()), scale=1.0)
    for opt in ("atol", "max_n", "grad_f", "backend"):
        with pytest.raises(TypeError, match="%s= is an option of expectation" % opt):
            fs_jax.surrogate("Normal", x, x ** 2, loc=jnp.zeros(()), scale=1.0, **{opt: 1})


# -- f written in JAX (issue 26, item 2) ---------------------------------------------------
def test_an_array_f_gets_float64_jax_arrays_shared_where_aligned():
    seen = []

    def f(x):
        seen.append(x)
        return x * x + 3.0 * x

    d = fs.Normal(np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.5, 2.0]))
    with jax.enable_x64(False):                  # x64 off outside: f still gets float64
        est = fs.estimate(d, fs_jax.array_f(f), 1000, rng=3, method="rloo")
    assert len(seen) == 1                        # once per wave
    assert isinstance(seen[0], jax.Array) and seen[0].dtype == jnp.float64
    np.testing.assert_array_equal(np.asarray(seen[0]), fs.sample(d, 1000, rng=3))
    want = fs.estimate(d, lambda x: x * x + 3.0 * x, 1000, rng=3, method="rloo")
    np.testing.assert_array_equal(est.grad["loc"], want.grad["loc"])
    np.testing.assert_array_equal(est.value_stderr, want.value_stderr)
    # the conversion: an aligned, writable buffer is shared; anything else is copied once,
    # into an aligned buffer, which is then shared
    af = fs_jax.array_f(f)
    x = fs_jax._aligned_copy(np.arange(24.0).reshape(4, 6))
    assert x.ctypes.data % 64 == 0
    with jax.enable_x64(True):
        assert af.to_framework(x).unsafe_buffer_pointer() == x.ctypes.data
        y = np.empty(25)[1:]
        y[:] = 1.0
        z = af.to_framework(y)
        assert z.unsafe_buffer_pointer() != y.ctypes.data
        np.testing.assert_array_equal(np.asarray(z), y)
        ro = x.view()
        ro.flags.writeable = False
        assert af.to_framework(ro).unsafe_buffer_pointer() != x.ctypes.data


def test_an_array_f_is_called_once_per_wave_and_may_keep_its_samples(monkeypatch):
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

    a = fs.estimate(d, fs_jax.array_f(f), n, rng=1)
    b = fs.estimate(d, g, n, rng=1)
    assert len(kept) == len(numpy_calls) > 1
    for t, x in zip(kept, numpy_calls):           # unchanged by later waves
        np.testing.assert_array_equal(np.asarray(t), x)
    np.testing.assert_array_equal(a.grad["scale"], b.grad["scale"])


def test_pathwise_with_an_array_f_takes_its_derivative_from_jax_grad():
    w = jnp.asarray([1.0, -2.0, 0.5])

    @jax.jit
    def f(x):
        return (w * x * x).sum(-1) + x[..., 0] * x[..., 1]

    def f_np(x):
        return (np.asarray(w) * x * x).sum(-1) + x[..., 0] * x[..., 1]

    def g_np(x):
        g = 2.0 * np.asarray(w) * x
        g[..., 0] += x[..., 1]
        g[..., 1] += x[..., 0]
        return g

    loc = jnp.asarray([[0.5, -1.0, 2.0], [0.0, 1.0, 0.3]])
    af = fs_jax.array_f(f)

    @jax.jit
    def grads(loc):
        def loss(l):
            v, se = fs_jax.expectation("Normal", af, 500, rng=2, estimator="pathwise",
                                       return_stderr=True, loc=l, scale=0.8,
                                       reinterpreted_batch_ndims=1)
            return v.sum(), se
        return jax.grad(loss, has_aux=True)(loc)

    g, se = grads(loc)
    d = fs.Independent(fs.Normal(np.asarray(loc), 0.8), 1)
    est = fs.estimate(d, f_np, 500, rng=2, estimator="pathwise", grad_f=g_np)
    np.testing.assert_allclose(np.asarray(g), est.grad["loc"], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(se["scale"]), est.stderr["scale"], rtol=1e-12)
    # a Joint's dict: jax.grad gives the dict of derivatives
    jf = fs_jax.array_f(lambda x: x["tau"] * (x["w"] ** 2).sum(-1))
    dj = fs.Joint({"w": fs.Independent(fs.Normal([0.5, -0.5], 1.0), 1),
                   "tau": fs.Gamma(2.0, 1.5)})
    a = fs.estimate(dj, jf, 400, rng=2, estimator="pathwise")
    b = fs.estimate(dj, lambda x: x["tau"] * (x["w"] ** 2).sum(-1), 400, rng=2,
                    estimator="pathwise",
                    grad_f=lambda x: {"w": 2.0 * x["tau"][:, None] * x["w"],
                                      "tau": (x["w"] ** 2).sum(-1)})
    np.testing.assert_allclose(a.grad["w"]["loc"], b.grad["w"]["loc"], rtol=1e-12)
    np.testing.assert_allclose(a.grad["tau"]["rate"], b.grad["tau"]["rate"], rtol=1e-12)


def test_stderr_under_vmap_and_float32():
    f = fs.fn.power(2)

    def one(seed, loc):
        return fs_jax.expectation("Normal", f, 200, rng=seed, return_stderr=True, loc=loc,
                                  scale=1.0)

    v, se = jax.jit(jax.vmap(one, in_axes=(0, None)))(jnp.arange(3), jnp.zeros(2))
    assert v.shape == (3, 2) and sorted(se) == ["loc", "scale", "value"]
    est = fs.estimate(fs.Normal(np.zeros(2), 1.0), f, 200, rng=2)
    np.testing.assert_allclose(np.asarray(se["scale"][2]), est.stderr["scale"], rtol=1e-12)
    with jax.enable_x64(False):
        v, se = one(2, jnp.zeros(2, dtype=jnp.float32))
        assert v.dtype == jnp.float32 and all(a.dtype == jnp.float32 for a in se.values())
        np.testing.assert_array_equal(np.asarray(se["loc"]),
                                      est.stderr["loc"].astype(np.float32))
