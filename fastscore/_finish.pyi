"""Type stubs of the compiled finish (fastscore/_finish.pyx)."""

from typing import Optional

import numpy as np
import numpy.typing as npt

METHOD_CODES: dict[str, int]

def onehot_count_sums(
    counts: np.ndarray, fvals: np.ndarray, a: np.ndarray, bcoef: np.ndarray, n_threads: int
) -> np.ndarray: ...
def finish_sums(
    sums: np.ndarray, method: str, baseline: Optional[npt.ArrayLike] = ..., n_threads: int = ...
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]: ...
def onehot_finish(
    counts: np.ndarray,
    fvals: np.ndarray,
    a: Optional[np.ndarray],
    bcoef: np.ndarray,
    method: str,
    baseline: Optional[npt.ArrayLike] = ...,
    n_threads: int = ...,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]: ...
def finish_mean(
    sums: np.ndarray, coef: Optional[npt.ArrayLike] = ..., n_threads: int = ...
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]: ...
def finish_cv(
    sums: np.ndarray, eta: npt.ArrayLike, n_threads: int = ...
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]: ...
