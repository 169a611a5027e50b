"""Runs on a Dask cluster: a run cut into tasks, their results folded in task order.

A run is (key, n) and a batch: chunk c of batch element b is drawn from
Philox(key, counter=[0, 0, c, b]) wherever it is computed.  So a task is a
rectangle of that grid, chunks [c0, c1) of batch elements [b0, b1)
(:func:`_tiles`), computed on a worker by the very kernels a local run calls
(``fastscore._compiled.run`` with piece bounds).  It returns every chunk's
moment row unmerged (or counts, which add exactly), and the caller folds
them with ``_kernels.merge_chunk_rows``, the merge in chunk order that a local
run does.  The result is the local one bit for bit, whatever the number of
workers, their threads and the size of the tasks.

What travels is plain and picklable.  Once per call, to every worker
(:class:`_Job`): the plan without its constant rows, the user's f (a
LowLevelCallable as its shared library and symbol, found again on the
worker) and the caller's fastscore version.  With each task: its bounds and
its elements' constant rows, so that a worker holds the rows of its tasks
only (a batch of 1e8 elements is not copied to every worker; a Python f,
which sees the whole batch, gets them all in the job).  The finish (moments
to estimates) runs in the caller, as locally.

dask and distributed are optional (``pip install "fastscore-mc[dask]"``):
this module imports them only when a client is given.

Examples
--------
>>> import numpy as np, fastscore as fs
>>> from distributed import LocalCluster
>>> cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
...                        dashboard_address=":0")
>>> client = cluster.get_client()
>>> d = fs.Normal(0.0, 1.0)
>>> there = fs.estimate(d, fs.fn.power(2), 10**6, rng=0, client=client)
>>> here = fs.estimate(d, fs.fn.power(2), 10**6, rng=0)
>>> bool(there.grad["scale"] == here.grad["scale"])
True
>>> bool(np.array_equal(fs.sample(d, 10**5, rng=1, client=client), fs.sample(d, 10**5, rng=1)))
True
>>> client.close(); cluster.close()
"""

import ctypes
import numbers
import os
import uuid
import weakref

import numpy as np

from . import _compiled, _engine, _kernels, _specs, _threads
from ._callables import capsule_parts, prepare, prepare_grad
from ._kinds import KINDS
from ._plan import Plan
from ._rng import CHUNK_SIZE
from ._version import __version__

#: Samples x event size a task draws by default (4 Mi; 256 chunks of a scalar
#: family): 20-400 ms of kernel work on one thread, so that Dask's cost of a
#: task (about 1-3 ms from submission to result) stays at a few per cent.
TASK_SAMPLES = 1 << 22
#: By default, at least this many tasks per worker thread: a slow worker or a
#: rerun after a lost worker then delays the run by a fraction of its share.
TASKS_PER_THREAD = 4
#: Workers found to run this fastscore, by client (see ClusterBackend._check_workers).
_CHECKED = weakref.WeakKeyDictionary()
#: How often Dask reruns a task that raised (a task lost with its worker is
#: rerun by the scheduler whatever this says).  An f that raises every time
#: is raised in the caller after these reruns.
TASK_RETRIES = 2


def _distributed():
    """The distributed package, or an ImportError saying what to install."""
    try:
        import distributed
    except ImportError as exc:
        raise ImportError("client=: running on a Dask cluster needs dask.distributed, which "
                          "could not be imported (%s); install it with "
                          "`pip install \"fastscore-mc[dask]\"` (or `pip install "
                          "\"dask[distributed]\"`)" % exc) from None
    return distributed


def backend(client, chunks_per_task, n_threads, backend_name):
    """The cluster backend for estimate's and sample's ``client=``; None runs locally.

    Parameters
    ----------
    client : None, "auto" or distributed.Client
        "auto" is ``distributed.get_client()``.
    chunks_per_task : int or None
        (element, chunk) items per task; None chooses (:data:`TASK_SAMPLES`,
        :data:`TASKS_PER_THREAD`).  Only with a client.
    n_threads : int or None
        Each task's OpenMP threads.  None means 1: a Dask worker runs as many
        tasks at once as it has threads (and its nanny sets
        OMP_NUM_THREADS=1 anyway), so one thread per task fills its cores
        without oversubscribing them.  Give more to workers of one thread on
        a machine of several cores.
    backend_name : str
        Must be "compiled" with a client (the workers run the kernels).

    Returns
    -------
    ClusterBackend or None

    Raises
    ------
    ImportError
        A client without dask.distributed installed.
    TypeError, ValueError
        Naming the argument and what it must be.

    Examples
    --------
    >>> backend(None, None, None, "compiled") is None
    True
    >>> backend(None, 4, None, "compiled")
    Traceback (most recent call last):
    ...
    ValueError: chunks_per_task is only used with client= (a Dask cluster run)
    """
    if chunks_per_task is not None:
        if isinstance(chunks_per_task, (bool, np.bool_)) or not isinstance(chunks_per_task,
                                                                            numbers.Integral):
            raise TypeError("chunks_per_task must be None or a positive integer, got %r"
                            % (chunks_per_task,))
        if chunks_per_task < 1:
            raise ValueError("chunks_per_task must be a positive integer (chunks of "
                             "fs.CHUNK_SIZE samples per Dask task), got %d" % chunks_per_task)
        if client is None:
            raise ValueError("chunks_per_task is only used with client= (a Dask cluster run)")
    if client is None:
        return None
    dist = _distributed()
    if isinstance(client, str):
        if client != "auto":
            raise ValueError("client must be None, 'auto' or a distributed.Client, got %r"
                             % (client,))
        try:
            client = dist.get_client()
        except ValueError:
            raise ValueError("client='auto' found no Dask client: start one first, e.g. "
                             "distributed.Client(address) or distributed.LocalCluster()"
                             ".get_client()") from None
    elif not isinstance(client, dist.Client):
        raise TypeError("client must be None, 'auto' or a distributed.Client, got %s"
                        % type(client).__name__)
    if backend_name != "compiled":
        raise ValueError("client= runs the compiled kernels on the workers; backend=%r runs "
                         "locally only" % (backend_name,))
    task_threads = 1 if n_threads is None else _threads.effective_n_threads(n_threads)
    return ClusterBackend(client, None if chunks_per_task is None else int(chunks_per_task),
                          task_threads)


def _tiles(batch, chunk_start, n_chunks, per_task, whole_batch):
    """The tasks of chunks [chunk_start, n_chunks) of every batch element, in task order.

    Each is (b0, b1, c0, c1), chunks [c0, c1) of elements [b0, b1), with at
    most ``per_task`` (element, chunk) items (but at least one chunk).  An
    element with ``per_task`` chunks or more is cut into chunk ranges;
    otherwise whole elements go in blocks.  ``whole_batch`` (a Python f,
    which sees the whole batch) gives chunk ranges of every element.

    Examples
    --------
    >>> _tiles(1, 0, 5, 2, False)
    [(0, 1, 0, 2), (0, 1, 2, 4), (0, 1, 4, 5)]
    >>> _tiles(5, 0, 1, 2, False)
    [(0, 2, 0, 1), (2, 4, 0, 1), (4, 5, 0, 1)]
    >>> _tiles(3, 1, 3, 4, True)
    [(0, 3, 1, 2), (0, 3, 2, 3)]
    """
    chunks = n_chunks - chunk_start
    if whole_batch or chunks >= per_task:
        rows = batch if whole_batch else 1
        width = max(1, per_task // rows)
        return [(b, b + rows, c, min(c + width, n_chunks)) for b in range(0, batch, rows)
                for c in range(chunk_start, n_chunks, width)]
    rows = per_task // chunks
    return [(b, min(b + rows, batch), chunk_start, n_chunks) for b in range(0, batch, rows)]


class ClusterBackend:
    """Runs and samples on a Dask cluster, with the compiled backend's interface.

    ``run`` has the signature of ``fastscore._compiled.run`` (one wave of a
    run, continuing ``state``) and returns the same state bit for bit;
    ``finish_state`` is the compiled one, run in the caller.  One instance
    serves one call of estimate or sample: it checks the workers' fastscore
    and sends them the call's plan and f once, at its first wave.
    """

    finish_state = staticmethod(_compiled.finish_state)

    def __init__(self, client, chunks_per_task, task_threads):
        self.client = client
        self.chunks_per_task = chunks_per_task
        self.task_threads = task_threads
        self.worker_threads = None
        self._sent = None

    # -- the workers ----------------------------------------------------
    def _check_workers(self):
        """Refuse workers whose fastscore differs from ours; count their threads.

        Each worker is asked once per client (a restarted worker has a new
        address, so it is asked again); a worker that runs tasks without having
        been asked is checked by the task itself (:meth:`_Job.open`).
        """
        threads = self.client.nthreads()  # {address: threads}: one round trip to the scheduler
        seen = _CHECKED.setdefault(self.client, set())
        new = [addr for addr in threads if addr not in seen]
        if new:
            found = self.client.run(_probe(), workers=new)
            other = {addr: version for addr, version in found.items() if version != __version__}
            if other:
                addr, version = sorted(other.items())[0]
                raise RuntimeError("fastscore differs on the Dask workers: worker %s runs "
                                   "fastscore %s, this process fastscore %s (%d of %d workers "
                                   "differ); install fastscore-mc==%s on every worker"
                                   % (addr, version, __version__, len(other), len(found),
                                      __version__))
            seen.update(new)
        # No workers yet (an adaptive cluster): tasks wait for them.
        self.worker_threads = max(1, sum(threads.values()))

    def for_another_plan(self):
        """This backend with no job sent yet: a call that runs several plans (a
        Joint's parts) sends each its own."""
        import copy

        out = copy.copy(self)
        out._sent = None
        return out

    def _job(self, plan, kind=None, pf=None):
        """The call's job on the workers (a future), sent at the first wave."""
        if self._sent is None:
            self._check_workers()
            # To every worker: a scattered object cannot be recomputed, so a copy on
            # one worker only would be lost with it.
            self._sent = self.client.scatter(_Job(plan, kind, pf), broadcast=True, hash=False)
        return self._sent

    def _per_task(self, n, E, items):
        if self.chunks_per_task is not None:
            return self.chunks_per_task
        by_size = max(1, TASK_SAMPLES // (min(n, CHUNK_SIZE) * E))
        by_spread = -(-items // (TASKS_PER_THREAD * self.worker_threads))
        return max(1, min(by_size, by_spread))

    def _tasks(self, plan, n, chunk_start, whole_batch):
        n_chunks = -(-n // CHUNK_SIZE)
        items = plan.batch_size * (n_chunks - chunk_start)
        return _tiles(plan.batch_size, chunk_start, n_chunks,
                      self._per_task(n, plan.E, items), whole_batch)

    def _submit(self, task, job, plan, n, key, tiles, whole_batch):
        """The tasks, each with its elements' constant rows (None: the job has them all).

        The rows go in the task graph, not scattered: the scheduler can then
        rerun a task lost with its worker, which scattered data would not survive.
        """
        name = "fastscore-%s-%s" % (task.__name__.strip("_"), uuid.uuid4().hex[:12])
        rows = [None if whole_batch else plan.consts[b0:b1] for b0, b1, _, _ in tiles]
        import dask

        # The rows of a large batch make a large graph, which Dask warns of: they
        # must travel to the workers in any case.
        limit = max(sum(r.nbytes for r in rows if r is not None) * 2, 10 << 20)
        with dask.config.set({"distributed.admin.large-graph-warning-threshold": limit}):
            # the caller's engine (ISAs, fused paths), for every task on any worker
            return self.client.map(task, tiles, rows, job=job, n=n, philox=key,
                                   n_threads=self.task_threads, engine=_engine.current(),
                                   key=["%s-%d" % (name, i) for i in range(len(tiles))],
                                   retries=TASK_RETRIES)

    def _collect(self, futures, tiles, progress, fold):
        """fold(i, result of task i) in task order, as tasks finish; then progress.

        Any exception while waiting (a task's, re-raised as it was raised on
        the worker, or KeyboardInterrupt) cancels the run's futures.
        """
        dist = _distributed()
        index = {fut.key: i for i, fut in enumerate(futures)}
        weights = [(b1 - b0) * (c1 - c0) for b0, b1, c0, c1 in tiles]
        total = sum(weights)
        done = 0
        ready = {}
        nxt = 0
        try:
            for fut, result in dist.as_completed(futures, with_results=True):
                i = index[fut.key]
                ready[i] = result
                done += weights[i]
                while nxt in ready:  # the merge is in task order, whatever order tasks end in
                    fold(nxt, ready.pop(nxt))
                    nxt += 1
                if progress is not None:
                    progress(done, total)
        except BaseException:
            self.client.cancel(futures)
            raise

    # -- the backend interface ------------------------------------------
    def run(self, kind, plan, pf, n, key, n_threads, progress=None, chunk_start=0, state=None):
        """One wave of a run, as ``fastscore._compiled.run``, and its state bit for bit.

        ``n_threads`` (the caller's) is unused: each task runs on ``task_threads``.
        """
        counted = kind.counted(plan)
        whole = not counted and not pf.inline  # a Python f sees the whole batch
        job = self._job(plan, kind, pf)  # first: it counts the workers' threads
        tiles = self._tasks(plan, n, chunk_start, whole)
        futures = self._submit(_estimate_task, job, plan, n, key, tiles, whole)
        if counted:
            width, dtype = plan.support.size * max(kind.folds, 1), np.int64
        else:
            width = _specs.row_width(plan.score_size, kind.block, max(kind.folds, 1))
            dtype = np.float64
        tot = (np.zeros((plan.batch_size, width), dtype) if state is None
               else np.array(state, dtype=dtype, copy=True))

        def fold(i, result):
            b0, b1 = tiles[i][:2]
            if counted:
                tot[b0:b1] += result
            else:
                _kernels.merge_chunk_rows(kind.kernel_id, tot[b0:b1], result, plan.score_size)

        self._collect(futures, tiles, progress, fold)
        return tot

    def sample(self, plan, n, key):
        """All n samples in kernel layout (n, batch_size, E), as ``fastscore._compiled.sample``."""
        job = self._job(plan)
        tiles = self._tasks(plan, n, 0, False)
        futures = self._submit(_sample_task, job, plan, n, key, tiles, False)
        out = np.empty((n, plan.batch_size, plan.E))

        def fold(i, x):
            b0, b1, c0, _ = tiles[i]
            out[c0 * CHUNK_SIZE:c0 * CHUNK_SIZE + x.shape[0], b0:b1] = x

        self._collect(futures, tiles, None, fold)
        return out


def _probe():
    """What a worker reports: its fastscore version.

    The function is made inside this one so that cloudpickle sends it by
    value: it must run on a worker whose fastscore differs from ours (or that
    has none), where fastscore._cluster may not exist.
    """

    def probe():
        try:
            import fastscore
            return str(fastscore.__version__)
        except Exception as exc:  # any failure to import fastscore is the answer
            return "none (import fastscore failed: %s)" % exc

    return probe


class _Job:
    """What every task of one call needs, as plain picklable objects.

    The plan without its NumPy twins (:func:`_kernel_plan`), and without its
    constant rows unless f is a Python f (the tasks bring their own), the
    estimator kind by name, and f and f' as the user gave them (a
    LowLevelCallable as a :class:`_LowLevelRef`).  The caller's plan arrays
    travel, not the distribution, so the constants are the caller's bits
    whatever SciPy the workers have.  A counted family's f stays home: the workers only count,
    and the caller's finish evaluates f on the support.
    """

    def __init__(self, plan, kind=None, pf=None):
        self.version = __version__
        self.kind = None if kind is None else kind.name
        self.folds = 0 if kind is None else kind.folds  # the score function's cv
        counted = kind is None or kind.counted(plan)
        # Tasks bring their elements' constant rows, except those of a Python f,
        # which each use every row.
        whole = not counted and not pf.inline
        self.plan = _kernel_plan(plan, None if whole else 0)
        self.f = self.grad = None
        if not counted:
            self.f = (_portable(pf.kind, pf.obj), pf.nan_policy)
            if pf.grad is not None and pf.grad.kind != "builtin":  # a built-in's is rebuilt
                self.grad = _portable(pf.grad.kind, pf.grad.obj)
        self._opened = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_opened"] = None  # FunctionSpecs and loaded libraries stay where they were made
        return state

    def open(self, b0, rows):
        """(kind, plan, prepared f) on this worker, f prepared once per worker process.

        ``rows`` are the constants of elements b0, b0 + 1, ... (None: the plan has all).
        """
        import fastscore

        if fastscore.__version__ != self.version:  # a worker that joined after the check
            raise RuntimeError("fastscore differs on a Dask worker: it runs fastscore %s, the "
                               "caller fastscore %s; install fastscore-mc==%s on every worker"
                               % (fastscore.__version__, self.version, self.version))
        if self._opened is None:
            kind = None if self.kind is None else KINDS[self.kind]
            if self.folds:
                kind = kind.for_method("cv")
            pf = None
            if self.f is not None:
                f, nan_policy = self.f
                pf = prepare(_resolve(f), nan_policy)
                if "grad_f" in kind.needs:
                    prepare_grad(pf, _resolve(self.grad), kind.name, self.plan)
            self._opened = (kind, pf)
        kind, pf = self._opened
        return kind, self.plan if rows is None else _kernel_plan(self.plan, b0, rows), pf


def _estimate_task(tile, rows, job, n, philox, n_threads, engine):
    """A task of an estimate: per-chunk rows (elements, chunks, width) or counts (elements, V).
    ``engine``: the caller's (fastscore._engine.Engine), in force for the whole task."""
    b0, b1, c0, c1 = tile
    with _engine.using(engine):
        kind, plan, pf = job.open(b0, rows)
        return _compiled.run(kind, plan, pf, n, philox, n_threads, None, c0, chunk_stop=c1,
                             batch=(b0, b1), per_chunk=True, engine=engine)


def _sample_task(tile, rows, job, n, philox, n_threads, engine):
    """A task of sample: the samples of chunks [c0, c1) of elements [b0, b1)."""
    b0, b1, c0, c1 = tile
    with _engine.using(engine):
        _, plan, _ = job.open(b0, rows)
        return _compiled.sample(plan, n, philox, n_threads, (c0, c1), (b0, b1), engine=engine)


def _kernel_plan(plan, b0=None, rows=None):
    """``plan`` without its NumPy twins, for the workers, which run only kernels.

    The twins are bound methods of the distribution: pickling them would send
    the distribution's parameters too.  With ``b0``, the constants are those
    of elements [b0, b0 + len(rows)) only (no rows when ``rows`` is None: a
    template for the tasks, which bring their own).  The kernels index the
    constants by the element's own index, so the rows sit at b0 in an array
    of zeros below them: zeros that are never read, nor ever touched, so
    their pages are never made (calloc maps large arrays to untouched zero
    pages).  measure_support is kept only for whether it is None: the finish
    that reads it runs in the caller.
    """
    consts = plan.consts
    measure_support = plan.measure_support
    if b0 is not None:
        consts = np.zeros((b0 + (0 if rows is None else len(rows)), consts.shape[1]))
        if rows is not None:
            consts[b0:] = rows
        if measure_support is not None:
            measure_support = measure_support[:0]
    return Plan(plan.name, plan.family, consts, plan.layout, plan.params,
                inline_family=plan.inline_family.name, support=plan.support,
                measure_support=measure_support)


def _portable(kind, obj):
    """f or f' as it can travel: a LowLevelCallable by reference, anything else as it is."""
    return _LowLevelRef(obj) if kind == "lowlevel" else obj


def _resolve(obj):
    return obj.load() if isinstance(obj, _LowLevelRef) else obj


class _LowLevelRef:
    """A LowLevelCallable as (shared library, symbol, signature).

    A C function pointer means nothing in another process, but the library
    it lies in (found with dladdr) and its symbol do: the worker loads the
    same library and looks the symbol up.  The symbol is dladdr's name, or
    the name of the ctypes function the LowLevelCallable was made from
    (``ctypes.CDLL(path).cos``: glibc's cos is an IFUNC, whose target has no
    exported name), checked to give the same address here.  So an f from a
    shared library (libm's cos, a user's compiled .so) travels, and JIT code
    (a numba cfunc, a ctypes callback of a Python function) or a user_data
    pointer cannot.
    """

    def __init__(self, llc):
        addr, user_data = capsule_parts(llc)
        if user_data:
            raise TypeError("f: a LowLevelCallable with user_data cannot be sent to Dask "
                            "workers (its pointer is valid only in this process); pass a Python "
                            "f or a built-in, or a C function without user_data")
        found = _symbol_of(addr, getattr(llc.function, "__name__", None))
        if found is None:
            raise TypeError("f: this LowLevelCallable's function is not an exported symbol of a "
                            "shared library (a numba cfunc or a ctypes callback of a Python "
                            "function?), so Dask workers cannot find it in their own process; "
                            "make it from a ctypes function of a shared library "
                            "(LowLevelCallable(ctypes.CDLL(path).name, signature=...)), or pass "
                            "a Python f")
        self.path, self.symbol = found
        self.signature = llc.signature

    def load(self):
        from scipy import LowLevelCallable

        return LowLevelCallable(getattr(ctypes.CDLL(self.path), self.symbol),
                                signature=self.signature)


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def _symbol_of(addr, name=None):
    """(library path, symbol) of the function at ``addr``, trying dladdr's name and ``name``.

    None when no library holds it or neither name gives that address (also
    where there is no dladdr, as on Windows).
    """
    try:
        dladdr = ctypes.CDLL(None).dladdr
    except (OSError, TypeError, AttributeError):
        return None
    dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
    dladdr.restype = ctypes.c_int
    info = _DlInfo()
    if not dladdr(addr, ctypes.byref(info)) or not info.dli_fname:
        return None
    path = os.fsdecode(info.dli_fname)
    for symbol in (info.dli_sname and info.dli_sname.decode(), name):
        try:
            if symbol and ctypes.cast(getattr(ctypes.CDLL(path), symbol),
                                      ctypes.c_void_p).value == addr:
                return path, symbol
        except (OSError, AttributeError):
            continue
    return None
