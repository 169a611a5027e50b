"""Build script for fastscore's compiled kernels.

Metadata lives in pyproject.toml; this file only describes the Cython
extensions.  It generates the files that the kernels' contract
(fastscore/_specs.py) defines: _layout.h and _kernels.pyx from its Tempita
template.  It chooses OpenMP flags for the compiler at hand; when OpenMP is
missing or FASTSCORE_NO_OPENMP=1 the build continues serially, with a
warning.  It links numpy's static npyrandom and npymath libraries, so that
the kernels can call numpy's C distribution functions.
"""

import importlib.util
import os
import subprocess
import sys
import tempfile
import textwrap
import warnings

import Cython
import numpy as np
from Cython.Build import cythonize
from Cython.Tempita import Template
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.join(HERE, "fastscore")

# -ffp-contract=off: no fused multiply-adds, so compiled arithmetic rounds as
# numpy's does.  -fno-math-errno: math functions need not set errno (nothing
# reads it), which changes no result but frees the optimiser (sqrt inline).
OPTIMISATION_FLAGS = ["-O3", "-ffp-contract=off", "-fno-math-errno"]
MSVC_OPTIMISATION_FLAGS = ["/O2", "/fp:precise"]


def load_module(name):
    """fastscore/<name>.py, loaded on its own (the package needs its kernels to import)."""
    spec = importlib.util.spec_from_file_location("_fastscore" + name,
                                                  os.path.join(PKG, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_specs():
    return load_module("_specs")


def write_if_changed(path, text):
    """Write a generated file, leaving it untouched (and its mtime) when unchanged."""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                return
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def generate_sources():
    """_layout.h, _ziggurat_tables.h and every fastscore/*.pyx.tp expanded into its .pyx
    (generated files)."""
    specs = load_specs()
    write_if_changed(os.path.join(PKG, "_layout.h"), specs.layout_header())
    write_if_changed(os.path.join(PKG, "_ziggurat_tables.h"), load_module("_gen_ziggurat").header())
    for name in os.listdir(PKG):
        if not name.endswith(".tp"):
            continue
        src = os.path.join(PKG, name)
        with open(src, encoding="utf-8") as fh:
            text = Template(fh.read(), name=name).substitute(
                families=specs.FAMILIES, kinds=specs.KIND_BLOCKS)
        write_if_changed(src[: -len(".tp")], text)


def specs_kinds():
    """The kernel kinds of the kind table (fastscore/_specs.py, KIND_BLOCKS)."""
    return tuple(load_specs().KIND_BLOCKS)


def numpy_static_libs():
    """Directories of numpy's libnpyrandom.a and libnpymath.a."""
    base = os.path.dirname(np.__file__)
    return [os.path.join(base, "random", "lib"), os.path.join(base, "_core", "lib")]


def _compiles(compiler_cmd, flags, link_flags):
    """True if a tiny OpenMP program compiles and links with these flags."""
    code = textwrap.dedent(
        """
        #include <omp.h>
        int main(void) { return omp_get_max_threads() > 0 ? 0 : 1; }
        """
    )
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "t.c")
        with open(src, "w") as fh:
            fh.write(code)
        cmd = compiler_cmd + flags + [src, "-o", os.path.join(tmp, "t")] + link_flags
        try:
            res = subprocess.run(cmd, capture_output=True, cwd=tmp, timeout=120)
        except (OSError, subprocess.SubprocessError):
            return False
        return res.returncode == 0


def openmp_flags(compiler):
    """(compile_args, link_args) enabling OpenMP, or None when unavailable."""
    if os.environ.get("FASTSCORE_NO_OPENMP", "") not in ("", "0"):
        return None
    if compiler.compiler_type == "msvc":
        return ["/openmp"], []
    cc = list(compiler.compiler_so[:1]) if hasattr(compiler, "compiler_so") else ["cc"]
    if sys.platform == "darwin":
        candidates = []
        for prefix in (os.environ.get("LIBOMP_PREFIX"), "/opt/homebrew/opt/libomp",
                       "/usr/local/opt/libomp"):
            if prefix and os.path.isdir(prefix):
                candidates.append(
                    (["-Xpreprocessor", "-fopenmp", "-I" + os.path.join(prefix, "include")],
                     ["-L" + os.path.join(prefix, "lib"), "-lomp"])
                )
        candidates.append((["-Xpreprocessor", "-fopenmp"], ["-lomp"]))
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    for cflags, lflags in candidates:
        if _compiles(cc, cflags, lflags):
            return cflags, lflags
    return None


class BuildExt(build_ext):
    """build_ext that adds per-compiler optimisation and OpenMP flags."""

    def build_extensions(self):
        msvc = self.compiler.compiler_type == "msvc"
        opt = MSVC_OPTIMISATION_FLAGS if msvc else OPTIMISATION_FLAGS
        omp = openmp_flags(self.compiler)
        if omp is None:
            warnings.warn(
                "fastscore: building WITHOUT OpenMP; the kernels will run on one "
                "thread (set up an OpenMP-capable compiler, or unset "
                "FASTSCORE_NO_OPENMP, for parallel kernels)",
                stacklevel=1,
            )
            print("fastscore: WARNING: OpenMP not available, building serial kernels",
                  file=sys.stderr)
            omp = ([], [])
        cflags, lflags = omp
        flags_text = " ".join(opt + cflags)
        for ext in self.extensions:
            ext.extra_compile_args = list(opt) + list(cflags)
            ext.extra_link_args = list(lflags)
            ext.define_macros = list(ext.define_macros) + [
                ("FASTSCORE_COMPILE_FLAGS", '"%s"' % flags_text.replace('"', "")),
                ("FASTSCORE_BUILD_INFO", '"Cython %s, numpy %s, %s"' % (
                    Cython.__version__, np.__version__, self.compiler.compiler_type)),
            ]
        super().build_extensions()


def extensions():
    generate_sources()
    common = dict(
        include_dirs=[np.get_include(), PKG],
        library_dirs=numpy_static_libs(),
        libraries=["npyrandom", "npymath"] if sys.platform != "win32" else ["npyrandom", "npymath"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    if sys.platform != "win32":
        common["libraries"] = common["libraries"] + ["m"]
    headers = [os.path.join("fastscore", h)
               for h in ("_layout.h", "_isa.h", "_reduce.h", "_rowops.h", "_foldsteps.h", "_onehot.h",
                         "_omp.h")]
    samplers = [os.path.join("fastscore", h) for h in
                ("_stream.h", "_samplers.h", "_stream_bitgen.h", "_ziggurat_tables.h",
                 "_samplers.pxd")]
    includes = [os.path.join("fastscore", p) for p in
                ("_functions.pxi", "_drivers.pxi", "_grouped.pxi", "_counting.pxi",
                 "_hooks.pxi")]
    # the families' units (fastscore/families/<unit>.pxi and .h), all of them
    includes += sorted(os.path.join("fastscore", "families", name)
                       for name in os.listdir(os.path.join(PKG, "families"))
                       if name.endswith((".pxi", ".h")))
    # the kernel kinds' step files (fastscore/kinds/<name>.pxi), from the kind table
    includes += [os.path.join("fastscore", "kinds", name + ".pxi") for name in specs_kinds()]
    exts = [
        Extension("fastscore._kernels", [os.path.join("fastscore", "_kernels.pyx")],
                  depends=headers + includes + samplers, **common),
        Extension("fastscore._finish", [os.path.join("fastscore", "_finish.pyx")],
                  depends=headers, include_dirs=[PKG],
                  define_macros=common["define_macros"]),
    ]
    return cythonize(
        exts,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    )


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
