"""Sample and parameter layout: user arrays to the kernels' layout and back.

The kernels and both backends see samples as (m, batch_size, E): m samples,
the batch flattened in C order, E = max(event size, 1) numbers per event.
Users see (*sample_shape, *batch_shape, *event_shape).  Gradients and
scores come out of the kernels as (..., P) components, which
:class:`ParamLayout` splits into one array per parameter in its own shape.
"""

import math

import numpy as np


def as_array(value, what):
    """np.asarray(value), or a ValueError naming ``what`` where numpy cannot read it
    (a ragged list: numpy's own words name nothing)."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ValueError("%s must be a rectangular array of real numbers; numpy could not "
                         "read it: %s" % (what, exc)) from None


class SampleLayout:
    """Shapes of one distribution's samples: user layout <-> kernel layout (m, B, E)."""

    def __init__(self, batch_shape, event_shape, integer_valued):
        self.batch_shape = tuple(batch_shape)
        self.event_shape = tuple(event_shape)
        self.integer_valued = bool(integer_valued)
        self.batch_size = math.prod(self.batch_shape)
        self.event_size = math.prod(self.event_shape)
        self.E = max(self.event_size, 1)

    def to_kernel(self, x, what="x"):
        """x of shape (*sample_shape, *batch_shape, *event_shape) -> ((m, B, E), sample_shape).

        Trailing axes broadcast to batch_shape + event_shape; anything else is
        a ValueError naming ``what`` and the expected shape.
        """
        arr = as_array(x, what)
        if arr.dtype.kind not in "biuf":
            raise TypeError("%s must be real numbers, got dtype %s" % (what, arr.dtype))
        arr = arr.astype(np.float64, copy=False)
        tail = self.batch_shape + self.event_shape
        if arr.ndim < len(tail):
            raise ValueError("%s must have shape (*sample_shape, %s); got %s"
                             % (what, ", ".join(map(str, tail)) or "", arr.shape))
        lead = arr.shape[: arr.ndim - len(tail)]
        got_tail = arr.shape[arr.ndim - len(tail):]
        if got_tail == tail:  # the common case, without numpy's broadcasting machinery
            m = math.prod(lead)
            return arr.reshape(m, self.batch_size, self.E), lead
        try:
            if np.broadcast_shapes(got_tail, tail) != tail:
                raise ValueError
        except ValueError:
            raise ValueError("%s must have shape (*sample_shape, *batch_shape, *event_shape) = "
                             "(..., %s); got %s" % (what, ", ".join(map(str, tail)), arr.shape)) \
                from None
        arr = np.broadcast_to(arr, lead + tail)
        m = int(np.prod(lead, dtype=np.int64))
        return arr.reshape(m, self.batch_size, self.E), lead

    def to_user(self, x3, lead):
        """Kernel-layout samples (m, B, E) -> (*lead, *batch_shape, *event_shape), user dtype."""
        x = x3.reshape(tuple(lead) + self.batch_shape + self.event_shape)
        if self.integer_valued:
            x = x.astype(np.int64)
        return x


class ParamLayout:
    """The differentiable parameters of a distribution, as gradient components.

    ``params`` is a list of (name, event_shape tuple, packing).  Packing None
    stores all of the event; "tril" stores, of the square matrix in the last
    two axes, only the lower triangle, row by row (each matrix in C order of
    any axes before them), and the other entries are zero when the
    components are expanded (MultivariateNormal's scale_tril, and an
    Independent of them).
    """

    def __init__(self, batch_shape, params):
        self.batch_shape = tuple(batch_shape)
        self.params = params
        self.size = 0
        for _, shape, packing in params:
            self.size += self._n_components(shape, packing)

    @staticmethod
    def _n_components(shape, packing):
        if packing == "tril":
            return math.prod(shape[:-2]) * (shape[-1] * (shape[-1] + 1) // 2)
        return math.prod(shape) if shape else 1

    def shape(self, name):
        """Gradient shape of parameter ``name``: batch_shape + its event shape."""
        for nm, shape, _ in self.params:
            if nm == name:
                return self.batch_shape + shape
        raise KeyError(name)

    def split(self, comps, lead=()):
        """(m, B, P) components (sample shape ``lead``) or (B, P) -> {name: array}."""
        out = {}
        j = 0
        shape = (tuple(lead) if comps.ndim == 3 else ()) + self.batch_shape
        for nm, ev, packing in self.params:
            k = self._n_components(ev, packing)
            block = comps[..., j:j + k]
            if packing == "tril":
                D = ev[-1]
                mats = block.shape[:-1] + (math.prod(ev[:-2]),)
                full = np.zeros(mats + (D * D,))
                rows, cols = np.tril_indices(D)
                full[..., rows * D + cols] = block.reshape(mats + (rows.size,))
                block = full
            out[nm] = block.reshape(shape + ev)
            j += k
        return out
