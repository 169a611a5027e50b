"""The package under test is the installed, compiled one."""

import importlib.machinery
import os
import subprocess
import sys

import fastscore
import fastscore._kernels as kernels

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INPLACE = os.environ.get("FASTSCORE_TEST_INPLACE", "") not in ("", "0")


def test_compiled_extension_is_what_runs():
    assert kernels.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    assert fastscore.estimate.__module__ == "fastscore.estimate"
    # the compiled kernel, not a Python fallback, produced these samples
    x = kernels.draw_samples("normal", fastscore.Normal(0.0, 1.0).kernel_params(), 1, 2, 5, 1, 1)
    assert x.shape == (5, 1, 1)


def test_installed_package_not_source_tree():
    if INPLACE:
        return
    assert not os.path.abspath(fastscore.__file__).startswith(os.path.join(ROOT, "fastscore"))


def test_show_config(capsys):
    fastscore.show_config()
    out = capsys.readouterr().out
    assert "fastscore %s" % fastscore.__version__ in out
    assert "openmp:" in out and "threads:" in out and "compile flags:" in out
    assert "-O3" in out or "/O2" in out


def test_version_cli():
    env = dict(os.environ)
    res = subprocess.run([sys.executable, "-m", "fastscore", "--version"], capture_output=True,
                         text=True, cwd=os.path.dirname(ROOT) if not INPLACE else ROOT, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "fastscore %s" % fastscore.__version__
