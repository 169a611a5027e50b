"""The engine configuration: which vector ISA the kernels use and which fused
paths are on, as one immutable value passed into every kernel call.

The kernels hold no mutable state.  Each entry point of ``_kernels`` and
``_finish`` that runs vector loops takes ``engine=`` (the packed
``Engine.code``), decodes it once and hands it down its loops.  The backends
(``_compiled``, ``_wrapped``, ``_cluster``, the finishes in ``_kinds``) pass
``current().code``: the engine of the calling thread or task, kept in a
:class:`contextvars.ContextVar`, so two threads (or asyncio tasks) may run
with different engines at the same time, each seeing only its own.  Every
choice gives the same bits; the tests switch them to prove it::

    with _engine.using(reduce_isa="portable", score_fold=False):
        ...   # estimates here run the portable loops, the steps unfused

The default is the best ISA the CPU has, capped by the environment variables
``FASTSCORE_PHILOX_ISA`` (the Philox refill) and ``FASTSCORE_REDUCE_ISA``
(the folds, block loops and one-hot finish): ``portable``, ``avx2`` or
``avx512``; everything fused on.
"""

import contextlib
import contextvars
import dataclasses
import functools
import os

from . import _kernels

#: The ISAs by index (0 portable, 1 AVX2, 2 AVX-512F), as the kernels number them.
ISAS = tuple(_kernels.ISAS)

_SWITCHES = ("score_fold", "pathwise_fold", "mvn_fused", "fresh_windows")


def _isa_index(field, value):
    if value not in ISAS:
        raise ValueError("%s must be one of %s, got %r"
                         % (field, ", ".join(repr(i) for i in ISAS), value))
    return ISAS.index(value)


@dataclasses.dataclass(frozen=True)
class Engine:
    """One engine configuration (immutable).

    Parameters
    ----------
    stream_isa : {"portable", "avx2", "avx512"}
        The Philox refill (_stream.h).  Capped at what the CPU has.
    reduce_isa : {"portable", "avx2", "avx512"}
        The reducer's folds, the block loops and the one-hot finish.  Capped
        at what the CPU has.
    score_fold : bool
        The scalar families' fused score-function step (_foldsteps.h).
    pathwise_fold : bool
        Their fused pathwise step.
    mvn_fused : bool
        MultivariateNormal's fused loops for events of 2 to 4 (_rowops.h).
    fresh_windows : bool
        A Python f gets fresh sample arrays for every window (_drivers.pxi).

    Every choice gives the same bits; only the speed differs.

    Raises
    ------
    ValueError
        An ISA that is not one of the names above.

    Examples
    --------
    >>> from fastscore import _engine
    >>> _engine.Engine("portable", "portable").reduce_isa
    'portable'
    """

    stream_isa: str
    reduce_isa: str
    score_fold: bool = True
    pathwise_fold: bool = True
    mvn_fused: bool = True
    fresh_windows: bool = True

    def __post_init__(self):
        reduce_top, stream_top = _kernels.isa_max()
        for field, top in (("stream_isa", stream_top), ("reduce_isa", reduce_top)):
            i = _isa_index(field, getattr(self, field))
            object.__setattr__(self, field, ISAS[min(i, ISAS.index(top))])
        for field in _SWITCHES:
            object.__setattr__(self, field, bool(getattr(self, field)))
        object.__setattr__(self, "_code", _kernels.engine_code(
            ISAS.index(self.stream_isa), ISAS.index(self.reduce_isa), self.score_fold,
            self.pathwise_fold, self.mvn_fused, self.fresh_windows))

    @property
    def code(self):
        """The packed form every kernel entry point takes (``engine=``): an int."""
        return self._code

    def replace(self, **changes):
        """This engine with ``changes`` (field=value), capped as the constructor caps."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError("Engine has no field %s" % ", ".join(sorted(unknown)))
        return dataclasses.replace(self, **changes)


def _env_cap(name, top):
    """top, capped by the ISA named in the environment variable name (ignored if unknown)."""
    value = os.environ.get(name)
    if value in ISAS:
        return ISAS[min(ISAS.index(value), ISAS.index(top))]
    return top


@functools.lru_cache(maxsize=None)
def default():
    """The engine of a thread that chose none: the CPU's best ISAs (the Philox
    refill capped by the build's default), capped by ``FASTSCORE_PHILOX_ISA`` and
    ``FASTSCORE_REDUCE_ISA``; every fused path on."""
    reduce_top, stream_top = _kernels.isa_max()
    stream_top = ISAS[min(ISAS.index(stream_top), ISAS.index(_kernels.STREAM_ISA_DEFAULT))]
    return Engine(_env_cap("FASTSCORE_PHILOX_ISA", stream_top),
                  _env_cap("FASTSCORE_REDUCE_ISA", reduce_top))


_CURRENT = contextvars.ContextVar("fastscore_engine")


def current():
    """The engine of the calling thread or task (``default()`` unless ``using``)."""
    engine = _CURRENT.get(None)
    return default() if engine is None else engine


@contextlib.contextmanager
def using(engine=None, /, **changes):
    """Run a block with another engine: ``engine`` (an :class:`Engine`; the current
    one if None) with ``changes``.  Only the calling thread or task sees it.

    Yields the engine in force (its ISAs capped at what the CPU has).
    """
    new = (current() if engine is None else engine).replace(**changes)
    token = _CURRENT.set(new)
    try:
        yield new
    finally:
        _CURRENT.reset(token)


def stream_isa():
    """(the Philox refill the current engine uses, the refills this CPU and build have)."""
    return current().stream_isa, ISAS[:ISAS.index(_kernels.isa_max()[1]) + 1]


def reduce_isa():
    """(the reducer's loops the current engine uses, the ones this CPU and build have)."""
    return current().reduce_isa, ISAS[:ISAS.index(_kernels.isa_max()[0]) + 1]
