"""Type stubs of the compiled kernels (fastscore/_kernels.pyx.tp and its .pxi files)."""

from typing import Callable, Optional, Sequence

import numpy as np
import numpy.typing as npt

CHUNK_SIZE: int
WAVE_SAMPLES: int
LL_SCALAR: int
LL_VECTOR: int
LL_GRAD: int
HAVE_OPENMP: bool
COMPILE_FLAGS: str
BUILD_INFO: str
FAMILY_IDS: dict[str, int]
SCORE_FAMILIES: frozenset[int]
PATHWISE_FAMILIES: frozenset[int]
MEASURE_POINTS: dict[int, int]
MEASURE_VALUES: dict[int, int]
REBAR_FAMILIES: frozenset[int]
LAYOUT: dict[str, int]
KIND_IDS: dict[str, int]
GRAD_KINDS: frozenset[int]
KIND_FAMILIES: dict[int, frozenset[int] | dict[int, int]]
F_KINDS: dict[str, int]
ACCEPTED_SIGNATURES: tuple[str, ...]
GRAD_SIGNATURES: tuple[str, ...]

_Progress = Optional[Callable[[int, int], object]]

def omp_max_threads() -> int: ...
def lowlevel_signature_kind(signature: str) -> int: ...
def unsupported_signature(signature: str, what: str = ...) -> TypeError: ...

class FunctionSpec:
    def __init__(
        self,
        kind: str,
        a: float = ...,
        b: float = ...,
        values: Optional[npt.ArrayLike] = ...,
        table_bstride: int = ...,
        lowlevel: object = ...,
    ) -> None: ...
    @property
    def kind(self) -> int: ...
    def evaluate(
        self, x: npt.ArrayLike, batch_index: npt.ArrayLike, *, engine: int
    ) -> np.ndarray: ...
    def evaluate_grad(self, x: npt.ArrayLike, batch_index: npt.ArrayLike) -> np.ndarray: ...

def merge_sums(tot: np.ndarray, a: np.ndarray, P: int) -> None: ...
def score_sums(
    kind: int,
    fam: int,
    consts: np.ndarray,
    x: np.ndarray,
    fx: np.ndarray,
    P: int,
    n_threads: int,
    *,
    engine: int,
) -> np.ndarray: ...
def run_inline(
    kind: int,
    fam: int,
    consts: np.ndarray,
    key0: int,
    key1: int,
    n: int,
    E: int,
    P: int,
    fspec: FunctionSpec,
    gspec: Optional[FunctionSpec],
    n_threads: int,
    progress: _Progress = ...,
    chunk_start: int = ...,
    start: Optional[np.ndarray] = ...,
    chunk_stop: int = ...,
    batch_start: int = ...,
    batch_stop: int = ...,
    per_chunk: bool = ...,
    *,
    engine: int,
) -> np.ndarray: ...
def run_grouped(
    kind: int,
    fam: int,
    consts: np.ndarray,
    key0: int,
    key1: int,
    n: int,
    G: int,
    P: int,
    fspec: FunctionSpec,
    gspec: Optional[FunctionSpec],
    n_threads: int,
    progress: _Progress = ...,
    chunk_start: int = ...,
    start: Optional[np.ndarray] = ...,
    *,
    engine: int,
) -> np.ndarray: ...
def run_python(
    kind: int,
    fam: int,
    consts: np.ndarray,
    key0: int,
    key1: int,
    n: int,
    E: int,
    P: int,
    call_f: Callable[[np.ndarray], np.ndarray],
    call_grad: Optional[Callable[[np.ndarray], np.ndarray]],
    n_threads: int,
    budget: int,
    progress: _Progress = ...,
    chunk_start: int = ...,
    start: Optional[np.ndarray] = ...,
    chunk_stop: int = ...,
    per_chunk: bool = ...,
    *,
    engine: int,
) -> np.ndarray: ...
def run_counts(
    fam: int,
    consts: np.ndarray,
    key0: int,
    key1: int,
    n: int,
    n_support: int,
    n_threads: int,
    progress: _Progress = ...,
    chunk_start: int = ...,
    start: Optional[np.ndarray] = ...,
    chunk_stop: int = ...,
    batch_start: int = ...,
    batch_stop: int = ...,
    folds: bool = ...,
    *,
    engine: int,
) -> np.ndarray: ...
def merge_chunk_rows(kind: int, tot: np.ndarray, rows: np.ndarray, P: int) -> None: ...
def draw_samples(
    fam: int,
    consts: np.ndarray,
    key0: int,
    key1: int,
    n: int,
    E: int,
    n_threads: int,
    chunk_start: int = ...,
    chunk_stop: int = ...,
    batch_start: int = ...,
    batch_stop: int = ...,
    *,
    engine: int,
) -> np.ndarray: ...
def sampling_floor(
    fam: int,
    consts: np.ndarray,
    key0: int,
    key1: int,
    n: int,
    E: int,
    n_threads: int,
    kind: int = ...,
    *,
    engine: int,
) -> None: ...
def philox_raw(
    key0: int, key1: int, counter: Sequence[int], n: int, kind: str = ..., *, engine: int = ...
) -> np.ndarray: ...

# The engine as the kernels take it (fastscore._engine.Engine.code) and decode it.
STREAM_ISAS: tuple[str, ...]
ISAS: tuple[str, ...]
STREAM_ISA_DEFAULT: str

def isa_max() -> tuple[str, str]: ...
def engine_code(
    stream_isa: int,
    reduce_isa: int,
    score_fold: bool,
    pathwise_fold: bool,
    mvn_fused: bool,
    fresh_windows: bool,
) -> int: ...
def engine_fields(engine: int) -> dict[str, int]: ...
def stream_refill(engine: int) -> str: ...
def measure_samples(
    fam: int, consts: np.ndarray, key0: int, key1: int, n: int, *, engine: int = ...
) -> np.ndarray: ...
def rebar_samples(
    fam: int, consts: np.ndarray, key0: int, key1: int, n: int, E: int, *, engine: int = ...
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
