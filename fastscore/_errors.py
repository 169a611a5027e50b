"""Exceptions the backends raise and the façade turns into messages."""


class SampleOverflowError(ValueError):
    """A draw was not a finite double: the parameters put samples beyond the
    float64 range (LogNormal(loc=1e9) draws exp(1e9) = inf).

    ``batch_index`` is the flat batch element of one such draw; the façade
    re-raises a ValueError naming the distribution and its parameters there.
    """

    def __init__(self, batch_index):
        ValueError.__init__(self, "a sample overflowed float64 (inf or nan) at flat batch "
                            "element %d" % batch_index)
        self.batch_index = int(batch_index)


class ResultOverflowError(OverflowError, ValueError):
    """An estimate's result (value, gradient, standard error or covariance) is
    beyond the float64 range although every moment sum was finite: its true
    value is not representable (|f| too large).  A ValueError too, as every
    error of ``nan_policy="raise"`` is."""


#: What the facade suggests where a result or a moment sum overflows float64.
RESCALE_HINT = ("rescale f (divide it by a power of two, say 2^-k f, and multiply the results "
                "by 2^k)")
