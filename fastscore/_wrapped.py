"""Joint distributions as transformations of plans (Independent, Joint,
TransformedDistribution), and the backend adapter that runs them.

A wrapper never needs a kernel of its own.  Its plan is plain data derived
from its base's plan:

* :class:`GroupedPlan` (Independent): the last batch dimensions of the base
  become one event.  A run is the base's run, whose f is the joint f of
  each group of G base elements handed back to every member of the group
  (``_GroupedCall``), so each coordinate draws exactly the base's samples
  (coordinate g of joint element b draws chunk c from the base's counter
  [0, 0, c, b * G + g]) and folds f times its own score into its own row;
  the rows of a group then become one joint row (one head, the
  coordinates' blocks in the order of the joint parameters).  O(D) per
  sample.
* :class:`TransformedPlan`: the base's plan, with f composed with the
  transform (and f' by the chain rule) and the samples mapped on the way
  out; the score is the base's at the pre-image.
* :class:`JointPlan`: named parts of any families, each drawing from its own
  key (part k: ``part_key(key, k)``), f called once on the dict of parts,
  the parts' terms side by side (score and pathwise estimators).

:class:`Backend` wraps a backend module (``_compiled``, ``reference`` or a
cluster backend) and unwraps these plans layer by layer, so that an
estimator kind and the façade see one plan whatever it wraps.
"""

import functools
import math

import numpy as np

from . import _moments
from ._callables import PreparedF, PreparedGrad, check_f_output
from ._layout import ParamLayout, SampleLayout
from ._plan import Plan as _Plan, Shapes
from ._rng import CHUNK_SIZE, aux_stream

#: Samples x event size one wave of a Joint holds (its parts' samples, f and
#: terms are in memory together for a wave).
JOINT_WAVE_VALUES = 1 << 20


class WrappedPlan(Shapes):
    """Base of the wrappers' plans: what the façade and the kinds ask of any plan.

    ``base`` is the wrapped plan (None for a Joint); ``layout`` and
    ``params`` are the wrapper's own (user-visible) shapes.
    """

    base = None
    support = None
    #: the plan's name for messages, made when a message needs it (a wrapper's
    #: repr formats its parameter arrays: too slow for every call in a loop)
    _name = None

    @property
    def name(self):
        return self._name() if callable(self._name) else self._name

    @name.setter
    def name(self, value):
        self._name = value
    onehot = None
    measure_support = None
    f_input = None
    counted = False

    @property
    def family(self):
        return self.base.family

    @property
    def inline_family(self):
        return self.base.inline_family

    @property
    def relaxed(self):
        return self.base.relaxed

    @property
    def rebar(self):
        return self.base.rebar

    @property
    def slots(self):
        return self.base.slots

    def runs_in_waves(self, kind):
        """True when ``kind`` runs on this plan in NumPy waves (``Backend._run_waves``:
        the draws of the kernels, f once per wave, the kind's terms in the plan's own
        layout), not through the base's run."""
        return getattr(kind, "waves", False)

    def wave_f(self, pf):
        """f as the waves call it, on this plan's samples."""
        return pf


# ---------------------------------------------------------------- Independent
class GroupedPlan(WrappedPlan):
    """The plan of ``Independent(base, k)``: G = prod(the last k batch dims) base
    elements per joint element, the base's layout reinterpreted."""

    def __init__(self, name, base, ndims):
        self.name = name
        self.base = base
        bshape = tuple(base.batch_shape)
        self.group_shape = bshape[len(bshape) - ndims:]
        self.group = math.prod(self.group_shape)
        batch = bshape[:len(bshape) - ndims]
        self.layout = SampleLayout(batch, self.group_shape + tuple(base.event_shape),
                                   base.integer_valued)
        self.params = ParamLayout(batch, [(nm, self.group_shape + tuple(ev), packing)
                                          for nm, ev, packing in base.params.params])
        # component j of a base element -> its place among the joint components
        self._order = self._component_order()

    @functools.cached_property
    def measure_coef(self):
        # read by the measure-valued kinds only: not built on every training step
        mc = self.base.measure_coef
        return None if mc is None else self._regroup_components(mc)

    @property
    def slots(self):
        out = set(self.base.slots)
        if self.base.counted:
            # f of the whole vector: counts of one coordinate are no longer
            # sufficient; the score is taken per sample (NumPy twin).
            out.add("score")
            out.discard("count")
        return frozenset(out)

    def runs_in_waves(self, kind):
        # a counted base (Bernoulli, Categorical) under one f of the whole vector:
        # the counts of a coordinate no longer suffice; per-sample scores in NumPy,
        # on the very samples the kernels draw
        return super().runs_in_waves(kind) or (self.base.counted and kind.slot == "score")

    def _component_order(self):
        """Index array: joint component i is base block (g, j) = order[i] in (G * P) order."""
        G, P = self.group, self.base.score_size
        out, off = [], 0
        for nm, ev, packing in self.base.params.params:
            k = self.base.params._n_components(ev, packing)
            out.extend((g * P + off + i) for g in range(G) for i in range(k))
            off += k
        return np.asarray(out, dtype=np.intp)

    def _regroup_components(self, comps):
        """(..., base batch, P) per-component values -> (..., batch, G * P) joint order."""
        lead = comps.shape[:-2]
        flat = comps.reshape(lead + (self.batch_size, self.group * self.base.score_size))
        return np.ascontiguousarray(flat[..., self._order])

    def rows(self, sums, kind):
        """Base rows (base batch, head + P blocks) -> joint rows (batch, head + G P blocks).

        Every coordinate of a group folded the same f values, so the group's
        heads are equal: the joint row keeps the first.
        """
        S = np.asarray(sums)
        folds = getattr(kind, "folds", None)
        if folds:   # cv's rows: one score row per fold, side by side, each regrouped
            S = S.reshape(S.shape[0], folds, -1)
            return np.ascontiguousarray(np.concatenate(
                [self._rows(S[:, k], kind) for k in range(folds)], axis=1))
        return self._rows(S, kind)

    def _rows(self, S, kind):
        # a parameter's blocks of the G coordinates, one strided copy per parameter:
        # the permutation of _order without numpy's gather (a policy batch has 1e4 rows)
        H, W = _moments.HEAD_WIDTH, len(kind.block)
        B, G, P = self.batch_size, self.group, self.base.score_size
        S = S.reshape(B, G, S.shape[-1])
        out = np.empty((B, H + G * P * W))
        out[:, :H] = S[:, 0, :H]
        pos, off = H, 0
        for nm, ev, packing in self.base.params.params:
            k = self.base.params._n_components(ev, packing)
            out[:, pos:pos + G * k * W] = S[:, :, H + off * W:H + (off + k) * W].reshape(B, -1)
            pos += G * k * W
            off += k
        return out

    def to_base(self, x3):
        m = x3.shape[0]
        return x3.reshape(m, self.base.batch_size, self.base.E)

    def from_base(self, x3):
        return x3.reshape(x3.shape[0], self.batch_size, self.E)

    def check_support(self, x3):
        self.base.check_support(self.to_base(x3))

    def score(self, x3):
        return self._regroup_components(self.base.score(self.to_base(x3)))

    def pathwise(self, x3, gp3):
        return self._regroup_components(self.base.pathwise(self.to_base(x3), self.to_base(gp3)))

    def variant(self, *args, **changes):
        """This plan over the base's variant (``Plan.variant``)."""
        import copy

        out = copy.copy(self)
        out.base = self.base.variant(*args, **changes)
        out.__dict__.pop("measure_coef", None)  # the new base's, when read
        return out

    def adapt(self, pf, kind, backend):
        points = kind.points
        q = self.base.family.measure if points else 1
        # ARM and DisARM are multivariate by construction: their antithetic points
        # are whole vectors (2 evaluations of f per sample, each coordinate's weight
        # on the one difference); the measure-valued kind's points replace one
        # coordinate at a time.
        whole = q > 1 and self.base.family.measure_weights
        out = PreparedF("python", _GroupedCall(pf, self, q, backend, whole), pf.nan_policy)
        if pf.grad is not None:
            out.grad = PreparedGrad("python", _GroupedGradCall(pf.grad, self, backend))
        return out

    def samples_from_base(self, x3):
        return self.from_base(x3)


class _GroupedCall:
    """The joint f on base samples: each group's f value for each of its members.

    Called on the base's samples in its user layout (m, *base batch, *base
    event).  With ``q`` > 1 the samples are the measure-valued kinds' points,
    point-major (q m rows): point 0 is the sample, and point p of coordinate g
    is evaluated with the other coordinates held at their sample; with
    ``whole``, every point is a whole vector (ARM's, DisARM's antithetic pair).
    """

    def __init__(self, pf, plan, q, backend, whole=False):
        self.pf, self.plan, self.q, self.backend = pf, plan, q, backend
        self.whole = whole

    def __call__(self, x):
        plan = self.plan
        B, G, E = plan.batch_size, plan.group, plan.base.E
        x = np.asarray(x, dtype=np.float64)
        rows = x.shape[0]
        m = rows // self.q
        pts = x.reshape(self.q, m, B, G, E)
        out = np.empty((self.q, m, B, G))
        if self.whole:
            fv = self.pf.values(x.reshape(rows, B, G * E), plan, self.backend)
            out[:] = fv.reshape(self.q, m, B)[..., None]
            return out.reshape((rows,) + tuple(plan.base.batch_shape))
        f0 = self.pf.values(pts[0].reshape(m, B, G * E), plan, self.backend)
        out[0] = f0[:, :, None]
        if self.q > 1:
            # coordinate g's points, the others at the sample: a few coordinates per call
            step = max(1, min(G, (1 << 20) // max(1, m * B * G * E)))
            for p in range(1, self.q):
                for g0 in range(0, G, step):
                    gs = range(g0, min(G, g0 + step))
                    X = np.repeat(pts[0][None], len(gs), axis=0)           # (k, m, B, G, E)
                    for i, g in enumerate(gs):
                        X[i, :, :, g] = pts[p, :, :, g]
                    fv = self.pf.values(X.reshape(len(gs) * m, B, G * E), plan, self.backend)
                    out[p, :, :, g0:g0 + len(gs)] = fv.reshape(len(gs), m, B).transpose(1, 2, 0)
        return out.reshape((rows,) + tuple(plan.base.batch_shape))


class _GroupedGradCall:
    """The joint f' on base samples: (m, *base batch, *base event), coordinate by coordinate."""

    def __init__(self, grad, plan, backend):
        self.grad, self.plan, self.backend = grad, plan, backend

    def __call__(self, x):
        plan = self.plan
        x = np.asarray(x, dtype=np.float64)
        m = x.shape[0]
        g = self.grad.values(x.reshape(m, plan.batch_size, plan.E), plan, self.backend)
        return g.reshape((m,) + tuple(plan.base.batch_shape) + tuple(plan.base.event_shape))


# ----------------------------------------------------------- Transformed
class TransformedPlan(WrappedPlan):
    """The plan of ``TransformedDistribution(base, transforms)``: y = T(x) elementwise.

    ``transform`` acts on samples of the user's shape (*batch, *event), so an
    AffineTransform's arrays broadcast as the user wrote them; the plan's
    ``forward``, ``inverse`` and ``derivative`` take kernel-layout arrays.
    """

    def __init__(self, name, base, transform):
        self.name = name
        self.base = base
        self.transform = transform
        self.layout = SampleLayout(base.batch_shape, base.event_shape, False)
        self.params = base.params
        self.measure_coef = base.measure_coef

    def _user(self, fn, x3):
        x3 = np.asarray(x3, dtype=np.float64)
        x = x3.reshape((x3.shape[0],) + self.batch_shape + tuple(self.event_shape))
        return np.asarray(fn(x), dtype=np.float64).reshape(x3.shape)

    def forward(self, x3):
        return self._user(self.transform, x3)

    def inverse(self, y3):
        return self._user(self.transform.inverse, y3)

    def derivative(self, x3):
        return self._user(self.transform.derivative, x3)

    def rows(self, sums, kind):
        return sums

    def check_support(self, y3):
        ok = self._user(self.transform.in_image, y3).astype(bool)
        if not ok.all():
            i = np.unravel_index(int(np.argmin(ok.ravel())), ok.shape)
            raise ValueError("%s: sample %r (sample %d, batch element %d) is outside the "
                             "image of %r" % (self.name, float(y3[i]), i[0], i[1],
                                              self.transform))
        self.base.check_support(self.inverse(y3))

    def score(self, y3):
        return self.base.score(self.inverse(y3))

    def pathwise(self, y3, gp3):
        x3 = self.inverse(y3)
        return self.base.pathwise(x3, gp3 * self.derivative(x3))

    def adapt(self, pf, kind, backend):
        out = PreparedF("python", _TransformedCall(pf, self, backend), pf.nan_policy)
        if pf.grad is not None:
            out.grad = PreparedGrad("python", _TransformedGradCall(pf.grad, self, backend))
        return out

    def samples_from_base(self, x3):
        y3 = self.forward(x3)
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(y3)
        if bad.any():   # as a draw beyond float64 (issue 24, item 10): never inf samples
            i = np.argwhere(bad)[0]
            b = tuple(int(v) for v in np.unravel_index(int(i[1]), self.batch_shape)) \
                if self.batch_shape else ()
            raise ValueError("%s: transforms take a sample beyond the float64 range: x = %r "
                             "gives y = T(x) = %r at batch element %s; parameters or transforms "
                             "this extreme put samples beyond +-1.8e308"
                             % (self.name() if callable(self.name) else self.name,
                                float(np.asarray(x3)[tuple(i)]), float(y3[tuple(i)]), b))
        return y3


class _TransformedCall:
    """f(T(x)) on the base's samples (m, *batch, *event)."""

    def __init__(self, pf, plan, backend):
        self.pf, self.plan, self.backend = pf, plan, backend

    def __call__(self, x):
        plan = self.plan
        x3 = np.asarray(x, dtype=np.float64).reshape(-1, plan.batch_size, plan.E)
        fx = self.pf.values(plan.forward(x3), plan, self.backend)
        return fx.reshape((x3.shape[0],) + tuple(plan.batch_shape))


class _TransformedGradCall:
    """d f(T(x)) / dx = f'(T(x)) T'(x) on the base's samples."""

    def __init__(self, grad, plan, backend):
        self.grad, self.plan, self.backend = grad, plan, backend

    def __call__(self, x):
        plan = self.plan
        x3 = np.asarray(x, dtype=np.float64).reshape(-1, plan.batch_size, plan.E)
        g = self.grad.values(plan.forward(x3), plan, self.backend) * plan.derivative(x3)
        return g.reshape(np.shape(x))


# ------------------------------------------------------------------ VIMCO
class MultiSamplePlan(WrappedPlan):
    """K independent draws per batch element of ``orig`` (the plan of a
    multi-sample objective, VIMCO's): ``base`` is the plan of the K copies as
    one event (``Independent(replicate(dist, K), 1)``); the layout and the
    parameters are ``orig``'s, whose gradients sum over the copies."""

    def __init__(self, orig, base, k):
        self.name = lambda: "%s, %d draws" % (orig.name, k)
        self.orig = orig
        self.base = base
        self.k = k
        self.layout = orig.layout
        self.params = orig.params
        self.measure_coef = None

    @property
    def slots(self):
        return frozenset({"score"}) if ("score" in self.orig.slots or self.orig.counted) \
            else frozenset()

    def runs_in_waves(self, kind):
        return True

    def samples_from_base(self, x):
        return x

    def draws(self, x):
        """The K draws of each sample, as samples of ``orig``: (m K, batch, E), copy-major
        within a sample."""
        m, B = x.shape[:2]
        return x.reshape(m, B, self.k, self.orig.E).transpose(0, 2, 1, 3).reshape(
            m * self.k, B, self.orig.E)

    def per_draw_scores(self, x):
        """[(m, batch, K, components)] per parameter of ``orig``: each draw's score."""
        m, B = x.shape[:2]
        S = self.base.score(x)
        out, off = [], 0
        for nm, ev, packing in self.orig.params.params:
            n_p = ParamLayout._n_components(ev, packing)
            out.append(S[..., off:off + self.k * n_p].reshape(m, B, self.k, n_p))
            off += self.k * n_p
        return out


# ------------------------------------------------------------------ Joint
class JointLayout:
    """The samples of a Joint: a dict of its parts' arrays, each in its own layout."""

    def __init__(self, parts, batch_shape):
        self.parts = parts  # {name: plan}
        self.batch_shape = tuple(batch_shape)
        self.batch_size = math.prod(self.batch_shape)
        self.event_shape = {nm: p.event_shape for nm, p in parts.items()}
        self.integer_valued = False

    def to_user(self, x, lead):
        return {nm: p.layout.to_user(x[nm], lead) for nm, p in self.parts.items()}

    def to_kernel(self, x, what="x"):
        if not isinstance(x, dict) or set(x) != set(self.parts):
            raise TypeError("%s must be a dict with the keys %s, got %s"
                            % (what, sorted(self.parts), sorted(x) if isinstance(x, dict)
                               else type(x).__name__))
        out, lead = {}, None
        for nm, p in self.parts.items():
            out[nm], ld = p.layout.to_kernel(x[nm], "%s[%r]" % (what, nm))
            if lead is not None and ld != lead:
                raise ValueError("%s: the parts' sample shapes differ: %s has %s, others %s"
                                 % (what, nm, ld, lead))
            lead = ld
        return out, lead


class NestedParams:
    """The parameters of a Joint: each part's, side by side; split() nests by part."""

    def __init__(self, parts):
        self.parts = parts
        self.size = sum(p.params.size for p in parts.values())
        self.params = [("%s.%s" % (nm, pn), ev, pk) for nm, p in parts.items()
                       for pn, ev, pk in p.params.params]

    @staticmethod
    def _n_components(shape, packing):
        return ParamLayout._n_components(shape, packing)

    def split(self, comps, lead=()):
        out, j = {}, 0
        for nm, p in self.parts.items():
            k = p.params.size
            out[nm] = p.params.split(comps[..., j:j + k], lead)
            j += k
        return out


class JointPlan(WrappedPlan):
    """The plan of ``Joint({name: dist})``: parts of any families, one f of them all."""

    def __init__(self, name, parts):
        self.name = name
        self.parts = parts
        shapes = {nm: tuple(p.batch_shape) for nm, p in parts.items()}
        batch = next(iter(shapes.values()))
        self.layout = JointLayout(parts, batch)
        self.params = NestedParams(parts)
        self.measure_coef = None

    @property
    def E(self):
        return None

    @property
    def event_shape(self):
        return self.layout.event_shape

    @property
    def event_size(self):
        return sum(p.event_size for p in self.parts.values())

    @property
    def integer_valued(self):
        return False

    @property
    def family(self):
        return None

    @property
    def relaxed(self):
        return False

    @property
    def rebar(self):
        return None

    @property
    def slots(self):
        out = {"score", "pathwise"}
        for p in self.parts.values():
            out &= set(p.slots) | ({"score"} if p.counted else set())
        return frozenset(out)

    def check_support(self, x):
        for nm, p in self.parts.items():
            p.check_support(x[nm])

    def score(self, x):
        return np.concatenate([p.score(x[nm]) for nm, p in self.parts.items()], axis=-1)

    def pathwise(self, x, gp):
        return np.concatenate([p.pathwise(x[nm], gp[nm]) for nm, p in self.parts.items()],
                              axis=-1)

    def rows(self, sums, kind):
        return sums

    def runs_in_waves(self, kind):
        return True

    def wave_f(self, pf):
        return _JointF(pf)


class _JointF:
    """A Python f of a Joint's dict of parts, and its f' (a dict of arrays)."""

    kind = "python"
    inline = False

    def __init__(self, pf):
        self.pf = pf
        self.obj = pf.obj
        self.nan_policy = pf.nan_policy
        self.grad = None if pf.grad is None else _JointGrad(pf.grad)

    def values(self, x, plan, backend):
        m = next(iter(x.values())).shape[0]
        return check_f_output(self.pf.obj(plan.layout.to_user(x, (m,))), m, plan)


class _JointGrad:
    def __init__(self, grad):
        self.obj = grad.obj

    def values(self, x, plan, backend):
        m = next(iter(x.values())).shape[0]
        g = self.obj(plan.layout.to_user(x, (m,)))
        if not isinstance(g, dict) or set(g) != set(plan.parts):
            raise ValueError("grad_f of a Joint must return a dict with the keys %s (df/dx of "
                             "each part, each of its samples' shape)" % sorted(plan.parts))
        out = {}
        for nm, p in plan.parts.items():
            arr = np.asarray(g[nm])
            want = (m,) + tuple(p.batch_shape) + tuple(p.event_shape)
            if arr.dtype.kind not in "biuf" or arr.shape != want:
                raise ValueError("grad_f returned for %r an array of shape %s (dtype %s); "
                                 "expected real numbers of shape %s" % (nm, arr.shape,
                                                                        arr.dtype, want))
            out[nm] = np.ascontiguousarray(arr, dtype=np.float64).reshape(m, p.batch_size, p.E)
        return out


def part_key(key, k):
    """Part k's Philox key: the key itself for the first part, then keys spawned from it."""
    if k == 0:
        return key
    ss = np.random.SeedSequence(entropy=[int(key[0]), int(key[1])], spawn_key=(k,))
    state = ss.generate_state(2, np.uint64)
    return int(state[0]), int(state[1])


def evaluations_per_sample(kind, plan):
    """Evaluations of f per sample of ``plan`` under the measure-valued kind: 1 + (Q - 1) G
    on an Independent of G coordinates with Q points each, MultivariateNormal's points
    (its ``wave_factor``); 1 for every other kind, which warns of nothing."""
    return kind.evaluations_per_sample(plan)


class AuxDraws:
    """Auxiliary draws of the chunks [c0, c1) of a wave, chunk by chunk from each
    batch element's auxiliary stream (fastscore._rng.aux_stream): ``aux(draw)``,
    with ``draw(gen, m)`` -> (m, ...), gives (samples, batch, ...)."""

    def __init__(self, key, c0, c1, n, batch_size):
        self.key, self.c0, self.c1, self.n, self.batch_size = key, c0, c1, n, batch_size

    _lo, _hi = 0, None

    def rows(self, lo, hi):
        """The draws of the wave's samples [lo, hi) only."""
        import copy

        out = copy.copy(self)
        out._lo, out._hi = lo, hi
        return out

    def __call__(self, draw):
        out = []
        for b in range(self.batch_size):
            out.append(np.concatenate([
                draw(aux_stream(self.key, c, b), min(CHUNK_SIZE, self.n - c * CHUNK_SIZE))
                for c in range(self.c0, self.c1)], axis=0)[self._lo:self._hi])
        return np.stack(out, axis=1)


def _rows_of(x):
    return (next(iter(x.values())) if isinstance(x, dict) else x).shape[0]


def _slice(x, lo, hi):
    if isinstance(x, dict):
        return {k: v[lo:hi] for k, v in x.items()}
    return x[lo:hi]


# ---------------------------------------------------------------- backend
class Backend:
    """A backend (``_compiled``, ``reference`` or a cluster backend) that also runs
    the wrappers' plans, by unwrapping them layer by layer."""

    def __init__(self, impl, name):
        self.impl = impl
        self.name = name  # "compiled" or "reference": how f is evaluated on the way

    # -- runs ------------------------------------------------------------
    def run(self, kind, plan, pf, n, key, n_threads, progress=None, chunk_start=0, state=None):
        if not isinstance(plan, WrappedPlan):
            if kind.waves_on(plan):
                return self._run_waves(kind, plan, pf, n, key, n_threads, progress, chunk_start,
                                       state)
            return self.impl.run(kind, plan, pf, n, key, n_threads, progress, chunk_start, state)
        if plan.runs_in_waves(kind):
            return self._run_waves(kind, plan, plan.wave_f(pf), n, key, n_threads, progress,
                                   chunk_start, state)
        base = plan.base
        if self._inline_grouped(kind, plan, pf):
            from . import _engine, _kernels
            gspec = pf.grad.kernel_spec(plan) if pf.grad is not None else None
            return _kernels.run_grouped(kind.kernel_id, base.family.id, base.consts, key[0],
                                        key[1], n, plan.group, base.score_size,
                                        pf.kernel_spec(plan), gspec, n_threads, progress,
                                        chunk_start, state, engine=_engine.current().code)
        inner = plan.adapt(pf, kind, self.name)
        return self.run(kind, base, inner, n, key, n_threads, progress, chunk_start, state)

    def _inline_grouped(self, kind, plan, pf):
        """True when the kernels run an Independent's joint f themselves (_grouped.pxi):
        compiled, a scalar base family without an f input, score or pathwise, and
        fn.linear or a low-level f (the same sums as the Python-f path)."""
        from . import _compiled

        if self.impl is not _compiled or not isinstance(plan, GroupedPlan):
            return False
        base = plan.base
        if not isinstance(base, _Plan) or base.counted or base.family.event != "scalar" \
                or base.family.f_input is not None or not kind.grouped_kernel \
                or getattr(kind, "folds", None) or kind.slot not in base.family.slots:
            return False
        if not pf.inline:
            return False
        from . import _kernels

        ok_f = (getattr(pf.obj, "kind", None) == "linear" if pf.kind == "builtin" else
                _kernels.lowlevel_signature_kind(pf.obj.signature) == _kernels.LL_VECTOR)
        ok_g = pf.grad is None or pf.grad.kind == "lowlevel" or pf.grad.kind == "builtin"
        return ok_f and ok_g

    def _run_waves(self, kind, plan, pf, n, key, n_threads, progress, chunk_start, state):
        """Draw, f, the kind's terms in NumPy, the sums of _moments: waves of whole
        chunks, or of slices of one chunk where a chunk's terms would exceed
        JOINT_WAVE_VALUES numbers (the same slices on both backends, so the same bits)."""
        n_chunks = (n + CHUNK_SIZE - 1) // CHUNK_SIZE
        width = (max(1, plan.batch_size) * max(1, plan.event_size, plan.score_size)
                 * kind.wave_factor(plan))
        rows = max(1, JOINT_WAVE_VALUES // width)
        wave = max(1, rows // CHUNK_SIZE)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for c0 in range(chunk_start, n_chunks, wave):
                c1 = min(n_chunks, c0 + wave)
                x = self.draw(plan, n, key, n_threads, (c0, c1))
                aux = AuxDraws(key, c0, c1, n, plan.batch_size)
                for lo in range(0, _rows_of(x), rows if wave == 1 else _rows_of(x)):
                    fx, terms = kind.wave_terms(plan, pf, _slice(x, lo, lo + rows), self.name,
                                                aux.rows(lo, lo + rows))
                    if getattr(kind, "folds", None):   # cv's cross-fitted rows
                        state = _moments.fold_sums_from_samples(
                            fx, terms, CHUNK_SIZE, state, c0 * CHUNK_SIZE + lo)
                    else:
                        state = _moments.sums_from_samples(fx, terms, CHUNK_SIZE, state,
                                                           kind.block)
                if progress is not None:
                    progress(c1 - chunk_start, n_chunks - chunk_start)
        return state

    def finish_state(self, kind, plan, pf, state, method, baseline, n_threads):
        if not isinstance(plan, WrappedPlan) and kind.waves_on(plan):
            return (kind.finish(plan, state, method, baseline) if self.name == "reference" else
                    kind.finish_compiled(plan, state, method, baseline, n_threads)), \
                state.__getitem__
        if not isinstance(plan, WrappedPlan):
            return self.impl.finish_state(kind, plan, pf, state, method, baseline, n_threads)
        rows = self._rows(kind, plan, state)
        return (kind.finish(plan, rows, method, baseline) if self.name == "reference" else
                kind.finish_compiled(plan, rows, method, baseline, n_threads)), rows.__getitem__

    @staticmethod
    def _rows(kind, plan, state):
        """The wrapper's rows of moment sums from its innermost run's."""
        if not isinstance(plan, WrappedPlan) or plan.runs_in_waves(kind):
            return state
        return plan.rows(Backend._rows(kind, plan.base, state), kind)

    def _for_part(self):
        """A backend for one of several plans of a call (a cluster sends each its own job)."""
        fresh = getattr(self.impl, "for_another_plan", None)
        return self if fresh is None else Backend(fresh(), self.name)

    # -- samples ---------------------------------------------------------
    def draw(self, plan, n, key, n_threads, chunks):
        """Kernel-layout samples of chunks [c0, c1) (a dict by part for a Joint)."""
        if isinstance(plan, JointPlan):
            return {nm: self.draw(p, n, part_key(key, k), n_threads, chunks)
                    for k, (nm, p) in enumerate(plan.parts.items())}
        if isinstance(plan, WrappedPlan):
            return plan.samples_from_base(self.draw(plan.base, n, key, n_threads, chunks))
        if self.name == "reference":
            from . import reference
            c0, c1 = chunks
            x = reference.sample(plan, min(n, c1 * CHUNK_SIZE), key, c0)
            return x
        from . import _compiled
        return _compiled.sample(plan, n, key, n_threads, chunks)

    def sample(self, plan, n, key, n_threads):
        """All n samples in kernel layout (a dict by part for a Joint)."""
        if not isinstance(plan, WrappedPlan):
            from . import _compiled
            return (self.impl.sample(plan, n, key, n_threads) if self.impl is _compiled
                    else self.impl.sample(plan, n, key))
        if isinstance(plan, JointPlan):
            return {nm: self._for_part().sample(p, n, part_key(key, k), n_threads)
                    for k, (nm, p) in enumerate(plan.parts.items())}
        return plan.samples_from_base(self.sample(plan.base, n, key, n_threads))
