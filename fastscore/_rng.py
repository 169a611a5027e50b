"""rng (Scientific Python SPEC 7) -> the 128-bit Philox key of a run.

Chunk ``c`` of batch element ``b`` is drawn from
``numpy.random.Philox(key=key, counter=[0, 0, c, b])``; the chunk size is
:data:`CHUNK_SIZE`.  A result therefore depends on (key, n, CHUNK_SIZE) only,
never on the number of threads.
"""

import functools
import numbers

import numpy as np

from . import _specs

#: Samples per chunk of one batch element's stream (a fixed module constant).
CHUNK_SIZE = _specs.CHUNK_SIZE


def key_from_rng(rng):
    """Turn ``rng`` into a Philox key: a tuple of two Python ints < 2**64.

    Parameters
    ----------
    rng : None, int, numpy.random.SeedSequence, BitGenerator or Generator
        ``None`` draws fresh OS entropy; an int or SeedSequence gives
        ``SeedSequence(rng).generate_state(2, uint64)``; a BitGenerator or
        Generator gives two raw 64-bit draws from it (advancing it, under its
        lock, so sharing one between threads is safe).

    Examples
    --------
    >>> from fastscore._rng import key_from_rng
    >>> key_from_rng(0) == key_from_rng(np.random.SeedSequence(0))
    True
    """
    if rng is None or isinstance(rng, np.random.SeedSequence):
        seq = np.random.SeedSequence() if rng is None else rng
        state = seq.generate_state(2, np.uint64)
        return int(state[0]), int(state[1])
    if isinstance(rng, (bool, np.bool_)):
        raise TypeError("rng must be None, an int, a SeedSequence, a BitGenerator or a "
                        "Generator, got a bool")
    if isinstance(rng, numbers.Integral):
        if int(rng) < 0:
            raise ValueError("rng: an integer seed must be non-negative, got %d" % int(rng))
        return _key_from_int(int(rng))
    if isinstance(rng, np.random.Generator):
        rng = rng.bit_generator
    if isinstance(rng, np.random.BitGenerator):
        raw = rng.random_raw(2)  # takes the bit generator's lock
        return int(raw[0]), int(raw[1])
    raise TypeError(
        "rng must be None, an int, a numpy.random.SeedSequence, BitGenerator or "
        "Generator (SPEC 7), got %s" % type(rng).__name__
    )


@functools.lru_cache(maxsize=256)
def _key_from_int(seed):
    # Integer seeds recur in loops and tests; SeedSequence costs microseconds.
    state = np.random.SeedSequence(seed).generate_state(2, np.uint64)
    return int(state[0]), int(state[1])


def stream(key, chunk, batch_index):
    """The numpy Generator that draws chunk ``chunk`` of batch element ``batch_index``."""
    return np.random.Generator(
        np.random.Philox(
            key=np.array(key, dtype=np.uint64),
            counter=np.array([0, 0, chunk, batch_index], dtype=np.uint64),
        )
    )


def aux_stream(key, chunk, batch_index):
    """The Generator of the auxiliary draws of chunk ``chunk`` of batch element
    ``batch_index``: Philox(key, counter=[0, 1, chunk, batch_index]).

    Estimators computed in NumPy waves (fastscore._wrapped) draw what they need
    beside the samples (MultivariateNormal's measure-valued coupling) here, on
    both backends: a stream of its own, so the samples stay the kernels'.
    """
    return np.random.Generator(
        np.random.Philox(
            key=np.array(key, dtype=np.uint64),
            counter=np.array([0, 1, chunk, batch_index], dtype=np.uint64),
        )
    )
