"""fastscore.show_config(): what this installation was built with."""

import sys

from . import _engine, _kernels, _threads
from ._version import __version__


def config_dict():
    """The facts show_config() prints, as a dict."""
    import numpy
    import scipy

    try:
        import Cython

        cython_version = Cython.__version__
    except ImportError:  # Cython is a build-time dependency only
        cython_version = "not installed (only needed to build)"
    return {
        "fastscore": __version__,
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "cython": cython_version,
        "openmp": bool(_kernels.HAVE_OPENMP),
        "threads": _threads.effective_n_threads(None),
        "chunk_size": _kernels.CHUNK_SIZE,
        "philox_refill": _engine.stream_isa()[0],
        "philox_refills": _engine.stream_isa()[1],
        "reducer": _engine.reduce_isa()[0],
        "compile_flags": _kernels.COMPILE_FLAGS,
        "built_with": _kernels.BUILD_INFO,
        "extension": _kernels.__file__,
    }


def show_config(file=None):
    """Print the version, OpenMP status, thread count, library versions and flags.

    The same as ``fastscore config`` on the command line.

    Parameters
    ----------
    file : file-like, optional
        Where to print (default: ``sys.stdout``).

    Returns
    -------
    None

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.show_config()  # doctest: +ELLIPSIS
    fastscore ...
    """
    cfg = config_dict()
    out = file if file is not None else sys.stdout
    lines = [
        "fastscore %s" % cfg["fastscore"],
        "  python:        %s" % cfg["python"],
        "  numpy:         %s" % cfg["numpy"],
        "  scipy:         %s" % cfg["scipy"],
        "  cython:        %s (installed now)" % cfg["cython"],
        "  openmp:        %s" % ("yes" if cfg["openmp"] else "no (serial kernels)"),
        "  threads:       %d (n_threads=None)" % cfg["threads"],
        "  chunk size:    %d samples" % cfg["chunk_size"],
        "  philox refill: %s (this CPU: %s; FASTSCORE_PHILOX_ISA=portable caps it)"
        % (cfg["philox_refill"], ", ".join(cfg["philox_refills"])),
        "  moment folds:  %s (8 lanes on every path; FASTSCORE_REDUCE_ISA=portable caps it)"
        % cfg["reducer"],
        "  compile flags: %s" % cfg["compile_flags"],
        "  built with:    %s" % cfg["built_with"],
        "  extension:     %s" % cfg["extension"],
    ]
    print("\n".join(lines), file=out)
