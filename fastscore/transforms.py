"""Fixed elementwise bijections for :class:`fastscore.TransformedDistribution`.

Names and semantics follow ``torch.distributions.transforms``.  A transform
maps samples x of the base distribution to y = T(x), elementwise; a list of
transforms is applied left to right (``ComposeTransform``).  Each knows its
inverse, its derivative dy/dx and log |dy/dx|, computed stably (TanhTransform
near y = +-1, where 1 - tanh(x)^2 underflows long before its logarithm does).

Examples
--------
>>> import numpy as np, fastscore as fs
>>> t = fs.transforms.TanhTransform()
>>> float(t.log_abs_det_jacobian(np.float64(30.0)))    # log(1 - tanh(30)^2), not -inf
-58.613705638880...
"""

import numbers

import numpy as np
from scipy import special

__all__ = ["Transform", "ExpTransform", "SigmoidTransform", "TanhTransform", "AffineTransform",
           "ComposeTransform"]


def _softplus(x):
    return np.logaddexp(0.0, x)


class Transform:
    """Base class: an elementwise bijection y = T(x) of the real line (or a part of it).

    Use its subclasses (or a list of them, a :class:`ComposeTransform`) as the
    ``transforms`` of :class:`fastscore.TransformedDistribution`.

    Examples
    --------
    >>> import fastscore as fs
    >>> t = fs.transforms.ExpTransform()
    >>> isinstance(t, fs.transforms.Transform), float(t(0.0)), float(t.inverse(1.0))
    (True, 1.0, 0.0)
    """

    #: What T(x) of a real x covers, in words.
    image = "the real line"

    def __call__(self, x):
        """y = T(x), elementwise.

        Parameters
        ----------
        x : array_like
            Points of the base distribution's support.

        Returns
        -------
        ndarray
            T(x), of x's shape (broadcast with the transform's parameters).

        Examples
        --------
        >>> import fastscore as fs
        >>> float(fs.transforms.AffineTransform(1.0, 2.0)(3.0))
        7.0
        """
        raise NotImplementedError

    def inverse(self, y):
        """x = T^-1(y), elementwise.

        Parameters
        ----------
        y : array_like
            Points of T's image.

        Returns
        -------
        ndarray
            T^-1(y), of y's shape (broadcast with the transform's parameters).

        Examples
        --------
        >>> import fastscore as fs
        >>> float(fs.transforms.SigmoidTransform().inverse(0.5))
        0.0
        """
        raise NotImplementedError

    def derivative(self, x):
        """dy/dx at x, elementwise.

        Parameters
        ----------
        x : array_like
            Points of the base distribution's support.

        Returns
        -------
        ndarray
            T'(x), of x's shape (broadcast with the transform's parameters).

        Examples
        --------
        >>> import fastscore as fs
        >>> float(fs.transforms.TanhTransform().derivative(0.0))
        1.0
        """
        raise NotImplementedError

    def log_abs_det_jacobian(self, x, y=None):
        """log |dy/dx| at x (y = T(x) may be passed to save work).

        Parameters
        ----------
        x : array_like
            Points of the base distribution's support.
        y : array_like, optional
            T(x), where already computed.

        Returns
        -------
        ndarray
            log |T'(x)|, of x's shape, computed stably (TanhTransform near
            y = +-1).

        Examples
        --------
        >>> import fastscore as fs
        >>> float(fs.transforms.ExpTransform().log_abs_det_jacobian(2.0))
        2.0
        """
        with np.errstate(divide="ignore"):
            return np.log(np.abs(self.derivative(x)))

    def in_image(self, y):
        """Boolean mask: y lies in the image of T."""
        return np.isfinite(y)

    def check(self, shape):
        """Raise ValueError if the transform's parameters do not fit samples of ``shape``."""

    def __repr__(self):
        return "%s()" % type(self).__name__


class ExpTransform(Transform):
    """y = exp(x).

    Examples
    --------
    >>> import fastscore as fs
    >>> float(fs.transforms.ExpTransform().inverse(1.0))
    0.0
    """

    image = "(0, inf)"

    def __call__(self, x):
        return np.exp(x)

    def inverse(self, y):
        with np.errstate(divide="ignore"):
            return np.log(y)

    def derivative(self, x):
        return np.exp(x)

    def log_abs_det_jacobian(self, x, y=None):
        return np.asarray(x, dtype=np.float64)

    def in_image(self, y):
        return (y > 0) & np.isfinite(y)


class SigmoidTransform(Transform):
    """y = 1 / (1 + exp(-x)).

    Examples
    --------
    >>> import fastscore as fs
    >>> float(fs.transforms.SigmoidTransform()(0.0))
    0.5
    """

    image = "(0, 1)"

    def __call__(self, x):
        return special.expit(x)

    def inverse(self, y):
        with np.errstate(divide="ignore"):
            return special.logit(y)

    def derivative(self, x):
        return special.expit(x) * special.expit(-np.asarray(x))

    def log_abs_det_jacobian(self, x, y=None):
        x = np.asarray(x, dtype=np.float64)
        return -_softplus(-x) - _softplus(x)

    def in_image(self, y):
        return (y > 0) & (y < 1)


class TanhTransform(Transform):
    """y = tanh(x): the squashed Gaussian policy of SAC.

    log |dy/dx| = log(1 - tanh(x)^2) = 2 (log 2 - x - softplus(-2 x)),
    finite for every finite x although 1 - tanh(x)^2 rounds to 0 beyond
    |x| = 19.  The inverse of y = +-1 (which tanh returns for |x| > 19.1) is
    infinite: fs.estimate works on the base samples x and never inverts, but
    fs.score and log_prob of such a y cannot recover x.

    Examples
    --------
    >>> import fastscore as fs
    >>> float(fs.transforms.TanhTransform().inverse(0.0))
    0.0
    """

    image = "(-1, 1)"

    def __call__(self, x):
        return np.tanh(x)

    def inverse(self, y):
        with np.errstate(divide="ignore"):
            return np.arctanh(y)

    def derivative(self, x):
        t = np.tanh(x)
        return 1.0 - t * t

    def log_abs_det_jacobian(self, x, y=None):
        x = np.asarray(x, dtype=np.float64)
        return 2.0 * (np.log(2.0) - x - _softplus(-2.0 * x))

    def in_image(self, y):
        return (y > -1) & (y < 1)


class AffineTransform(Transform):
    """y = loc + scale * x, ``loc`` and ``scale`` broadcasting against the samples'
    (*batch_shape, *event_shape); ``scale`` nonzero.

    Parameters
    ----------
    loc : array_like
        The shift, finite.
    scale : array_like
        The factor, finite and nonzero.

    Raises
    ------
    TypeError
        Where ``loc`` or ``scale`` are not real numbers.
    ValueError
        Where they are not finite, ``scale`` is 0, or (in a
        TransformedDistribution) they do not broadcast to the samples' shape.

    Examples
    --------
    >>> import fastscore as fs
    >>> float(fs.transforms.AffineTransform(1.0, 2.0)(3.0))
    7.0
    """

    def __init__(self, loc, scale):
        self.loc = self._array("loc", loc)
        self.scale = self._array("scale", scale)
        if np.any(self.scale == 0):
            raise ValueError("AffineTransform: scale must be nonzero (a bijection)")

    @staticmethod
    def _array(name, value):
        a = np.asarray(value)
        if a.dtype.kind not in "biuf":
            raise TypeError("AffineTransform: %s must be real numbers, got dtype %s"
                            % (name, a.dtype))
        a = a.astype(np.float64)
        if not np.all(np.isfinite(a)):
            raise ValueError("AffineTransform: %s must be finite" % name)
        return a

    def check(self, shape):
        for nm, a in (("loc", self.loc), ("scale", self.scale)):
            try:
                ok = np.broadcast_shapes(a.shape, tuple(shape)) == tuple(shape)
            except ValueError:
                ok = False
            if not ok:
                raise ValueError("AffineTransform: %s of shape %s does not broadcast to the "
                                 "samples' (*batch_shape, *event_shape) = %s"
                                 % (nm, a.shape, tuple(shape)))

    def __call__(self, x):
        return self.loc + self.scale * x

    def inverse(self, y):
        return (y - self.loc) / self.scale

    def derivative(self, x):
        return np.broadcast_to(self.scale, np.broadcast_shapes(np.shape(x), self.scale.shape))

    def log_abs_det_jacobian(self, x, y=None):
        return np.broadcast_to(np.log(np.abs(self.scale)),
                               np.broadcast_shapes(np.shape(x), self.scale.shape))

    def __repr__(self):
        return "AffineTransform(loc=%s, scale=%s)" % (self.loc.tolist(), self.scale.tolist())


class ComposeTransform(Transform):
    """The transforms ``parts`` applied left to right: y = T_k(... T_1(x)).

    Parameters
    ----------
    parts : iterable of Transform
        The transforms, first applied first (a ComposeTransform among them is
        flattened into its parts).

    Raises
    ------
    TypeError
        Where a part is not a :class:`Transform`.

    Examples
    --------
    >>> import fastscore as fs
    >>> t = fs.transforms.ComposeTransform([fs.transforms.AffineTransform(0.0, 2.0),
    ...                                     fs.transforms.ExpTransform()])
    >>> float(t.inverse(t(0.25)))
    0.25
    """

    def __init__(self, parts):
        parts = list(parts)
        for t in parts:
            if not isinstance(t, Transform):
                raise TypeError("transforms must be fastscore.transforms objects, got %r" % (t,))
        flat = []
        for t in parts:
            flat.extend(t.parts if isinstance(t, ComposeTransform) else [t])
        self.parts = flat

    @property
    def image(self):
        """The last part's image, when it is the only part that narrows the line."""
        narrowing = [t for t in self.parts if not isinstance(t, AffineTransform)]
        if len(self.parts) == 1 or not narrowing:
            return self.parts[-1].image if self.parts else "the real line"
        return "the image of %r" % (self,)

    def check(self, shape):
        for t in self.parts:
            t.check(shape)

    def __call__(self, x):
        for t in self.parts:
            x = t(x)
        return x

    def inverse(self, y):
        for t in reversed(self.parts):
            y = t.inverse(y)
        return y

    def derivative(self, x):
        d = np.ones(np.shape(x))
        for t in self.parts:
            d = d * t.derivative(x)
            x = t(x)
        return d

    def log_abs_det_jacobian(self, x, y=None):
        out = np.zeros(np.shape(x))
        for t in self.parts:
            out = out + t.log_abs_det_jacobian(x)
            x = t(x)
        return out

    def in_image(self, y):
        ok = np.ones(np.shape(y), dtype=bool)
        for t in reversed(self.parts):
            ok &= t.in_image(y)
            with np.errstate(invalid="ignore", divide="ignore"):
                y = t.inverse(np.where(ok, y, 0.0) if np.ndim(y) else y)
        return ok

    def __repr__(self):
        return "ComposeTransform(%r)" % (self.parts,)
