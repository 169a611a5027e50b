"""The options an estimator kind takes beside ``method`` (fastscore._kinds).

An option is declared once, with the value ``fs.estimate``'s signature gives
it when it is not passed (``unset``), its check and the wording of its errors;
a kind lists the options it takes with its own defaults
(``EstimatorKind.options``, name -> :class:`Option`), and
``EstimatorKind.check_options`` validates a call's options against them.
"""

import numbers

import numpy as np

from ._layout import as_array


class Option:
    """One option of ``fs.estimate`` that some estimator kinds take.

    Parameters
    ----------
    name : str
        The keyword of ``fs.estimate``.
    unset : object
        Its default in ``fs.estimate``'s signature: a kind that does not take
        the option accepts this value (and "auto", and False) as "not given".
    check : callable
        ``check(kind_name, value, default)`` -> the value to keep, raising
        with the option's wording where it is out of range; ``value`` is the
        call's, or the kind's ``default`` where the call left it unset.
    default : object
        The kind's default (see :meth:`default_to`).
    """

    def __init__(self, name, unset, check, default=None):
        self.name, self.unset, self.check, self.default = name, unset, check, default

    def default_to(self, default):
        """This option with another kind's default."""
        return Option(self.name, self.unset, self.check, default)

    def is_unset(self, value):
        """True when ``value`` means "not given" for a kind without this option."""
        return (value is self.unset or (isinstance(value, str) and value == "auto")
                or value is False)


def _temperature(kind, value, default):
    if value is None:
        raise TypeError("estimator=%r needs temperature= (> 0), the relaxation's "
                        "temperature" % kind)
    if isinstance(value, str):
        if value != "auto" or default != "auto":
            raise ValueError("temperature must be a number > 0%s, got %r" % (
                " or 'auto'" if default == "auto" else "", value))
        return value
    t = as_array(value, "temperature")
    if t.dtype.kind not in "biuf":
        raise TypeError("temperature must be real numbers, got dtype %s" % t.dtype)
    if not (np.all(np.isfinite(t)) and np.all(t > 0)):
        raise ValueError("temperature must be finite and > 0, got %r" % (value,))
    return value


def _num_draws(kind, value, default):
    if value is None:
        raise TypeError("estimator=%r needs num_draws= (K >= 2), the draws of each "
                        "multi-sample objective log((1/K) sum_k w(x_k))" % kind)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError("num_draws must be an integer >= 2, got %r" % (value,))
    if value < 2:
        raise ValueError("num_draws must be an integer >= 2, got %d" % value)
    return int(value)


def _straight_through(kind, value, default):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError("straight_through must be True or False, got %r" % (value,))
    return bool(value)


def _eta(kind, value, default):
    if not (isinstance(value, str) and value == "auto"):
        e = as_array(value, "eta")
        if e.dtype.kind not in "biuf" or not np.all(np.isfinite(e)):
            raise ValueError("eta must be 'auto' or finite real numbers, got %r" % (value,))
    return value


#: The relaxation's temperature (> 0; "auto" where the kind's default is "auto").
TEMPERATURE = Option("temperature", None, _temperature)
#: Concrete's straight-through variant.
STRAIGHT_THROUGH = Option("straight_through", False, _straight_through, False)
#: REBAR's control-variate coefficient ("auto" or numbers).
ETA = Option("eta", "auto", _eta, "auto")
#: VIMCO's draws per multi-sample objective (an integer >= 2).
NUM_DRAWS = Option("num_draws", None, _num_draws)
