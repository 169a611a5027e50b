"""Build the sampler harness extension, _sampler_check, for tests and benchmarks.

    python bench/samplers/build.py [BUILD_DIR]

BUILD_DIR (default: a folder in the system's temporary directory named
after this checkout, outside the source tree so that neither git nor the
sdist, which grafts bench/, picks it up) receives the
generated _ziggurat_tables.h, the Cython-generated C files and the two
extension modules (_sampler_check: the samplers with branch counters;
_pxd_check: the samplers through fastscore/_samplers.pxd); put it on
sys.path to import them.  FASTSCORE_SAMPLER_BUILD in the environment names
another folder (e.g. with CC=clang, to test a second compiler).  Compiled with the
project's flags (setup.py: -O3 -ffp-contract=off -fno-math-errno), so the
arithmetic rounds as numpy's does.  Returns quickly when nothing changed.
"""

import hashlib
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PKG = os.path.join(ROOT, "fastscore")
FLAGS = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-Wall", "-Wno-unused-function"]


def build(build_dir=None, quiet=True):
    """Build into build_dir (created if needed) and return its path."""
    import numpy as np
    try:
        from Cython.Build import cythonize
        from setuptools import Extension
    except ImportError as exc:  # the harness is compiled here, not by pip
        raise ImportError("building the sampler harness needs Cython and setuptools: "
                          "python -m pip install 'cython>=3.1' setuptools") from exc
    from setuptools.dist import Distribution

    build_dir = build_dir or os.environ.get("FASTSCORE_SAMPLER_BUILD")
    if not build_dir:
        tag = hashlib.sha1(HERE.encode()).hexdigest()[:10]
        build_dir = os.path.join(tempfile.gettempdir(), "fastscore_sampler_check_" + tag)
    build_dir = os.path.abspath(build_dir)
    os.makedirs(build_dir, exist_ok=True)
    sys.path.insert(0, PKG)
    try:
        import _gen_ziggurat
    finally:
        sys.path.remove(PKG)
    _gen_ziggurat.write(os.path.join(build_dir, "_ziggurat_tables.h"))

    depends = [os.path.join(PKG, "_stream.h"), os.path.join(PKG, "_samplers.h"),
               os.path.join(PKG, "_samplers.pxd"), os.path.join(PKG, "_stream_bitgen.h"),
               os.path.join(HERE, "_sampler_check_impl.h"),
               os.path.join(build_dir, "_ziggurat_tables.h")]
    base = os.path.dirname(np.__file__)
    common = dict(
        include_dirs=[build_dir, PKG, HERE, np.get_include()],
        # numpy's static C samplers, for the bitgen_t view (_stream_bitgen.h)
        library_dirs=[os.path.join(base, "random", "lib"), os.path.join(base, "_core", "lib")],
        libraries=["npyrandom", "npymath", "m"],
        extra_compile_args=FLAGS,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        depends=depends,
    )
    exts = [
        # the samplers with branch counters, for the identity tests and timing
        Extension("_sampler_check", [os.path.join(HERE, "_sampler_check.pyx")], **common),
        # the samplers through fastscore/_samplers.pxd, as kernels cimport them
        Extension("_pxd_check", [os.path.join(HERE, "_pxd_check.pyx")], **common),
    ]
    exts = cythonize(exts, build_dir=build_dir, quiet=quiet, include_path=[ROOT],
                     compiler_directives={"language_level": 3})
    dist = Distribution({"ext_modules": exts})
    cmd = dist.get_command_obj("build_ext")
    cmd.build_lib = build_dir
    cmd.build_temp = os.path.join(build_dir, "tmp")
    cmd.ensure_finalized()
    cmd.run()
    return build_dir


def load(build_dir=None):
    """Build if needed and import _sampler_check."""
    path = build(build_dir)
    if path not in sys.path:
        sys.path.insert(0, path)
    import _sampler_check
    return _sampler_check


if __name__ == "__main__":
    print(build(sys.argv[1] if len(sys.argv) > 1 else None, quiet=False))
