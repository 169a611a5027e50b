"""The package under test is a compiled build: installed, or built in place on request."""

import importlib.machinery
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import fastscore
import fastscore._kernels as kernels

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE_PKG = os.path.realpath(os.path.join(ROOT, "fastscore"))


def _conftest():
    # conftest.py is loaded by pytest under its own module name.
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None) or ""
        if os.path.realpath(f) == os.path.realpath(os.path.join(ROOT, "tests", "conftest.py")):
            return mod
    raise AssertionError("tests/conftest.py is not loaded")


def _under(path, directory):
    return os.path.realpath(path).startswith(directory + os.sep)


def test_kernels_are_a_compiled_extension():
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    assert kernels.__file__.endswith(suffixes), kernels.__file__
    assert isinstance(kernels.__loader__, importlib.machinery.ExtensionFileLoader)
    # the package's kernels are this extension, and they draw real samples
    assert fastscore._compiled._kernels is kernels
    x = fastscore.sample(fastscore.Normal(0.0, 1.0), 1000, rng=3)
    assert x.shape == (1000,) and 0.8 < x.std() < 1.2


def test_kernels_and_package_come_from_the_same_place():
    assert os.path.dirname(os.path.realpath(kernels.__file__)) == \
        os.path.dirname(os.path.realpath(fastscore.__file__))


def test_installed_package_not_source_tree():
    conf = _conftest()
    if conf.SOURCE_TREE_DROPPED:
        # the default: the installed package runs, whatever the source tree holds
        assert not _under(fastscore.__file__, SOURCE_PKG), fastscore.__file__
        assert not _under(kernels.__file__, SOURCE_PKG), kernels.__file__
        assert not any(os.path.realpath(p or os.curdir) == os.path.realpath(ROOT)
                       for p in sys.path)
    else:
        # FASTSCORE_TEST_INPLACE=1: the source tree's in-place build runs
        assert _under(fastscore.__file__, SOURCE_PKG), fastscore.__file__
        assert _under(kernels.__file__, SOURCE_PKG), kernels.__file__


def test_show_config(capsys):
    fastscore.show_config()
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "fastscore %s" % fastscore.__version__
    m = re.search(r"^\s*openmp:\s*(yes|no)", out, re.M)
    assert m, out
    assert (m.group(1) == "yes") == bool(kernels.HAVE_OPENMP)
    m = re.search(r"^\s*threads:\s*(\d+)", out, re.M)
    assert m, out
    assert int(m.group(1)) >= 1
    m = re.search(r"^\s*compile flags:\s*(.*)$", out, re.M)
    assert m, out
    assert "-O3" in m.group(1) or "/O2" in m.group(1)
    if kernels.HAVE_OPENMP and os.name != "nt":
        assert "openmp" in m.group(1).lower()


def test_show_config_to_file(tmp_path):
    path = tmp_path / "cfg.txt"
    with open(path, "w") as fh:
        fastscore.show_config(file=fh)
    assert path.read_text().startswith("fastscore %s" % fastscore.__version__)


def test_version_is_a_version_string():
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?([.+-]?\w+)*", fastscore.__version__)


def _cli_env():
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if not _conftest().SOURCE_TREE_DROPPED:
        # the in-place build is not installed: make it importable from anywhere
        env["PYTHONPATH"] = ROOT
    return env


def test_version_cli_outside_the_tree(tmp_path):
    res = subprocess.run([sys.executable, "-m", "fastscore", "--version"], capture_output=True,
                         text=True, cwd=str(tmp_path), env=_cli_env(), timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "fastscore %s" % fastscore.__version__


def test_console_script_from_the_checkout_root():
    """The ``fastscore`` command (the README's first command) runs the installed
    package from anywhere, the checkout's root included."""
    if not _conftest().SOURCE_TREE_DROPPED:
        pytest.skip("the in-place build is not installed: no console script")
    script = os.path.join(os.path.dirname(sys.executable), "fastscore")
    if not os.path.exists(script) and os.path.exists(script + ".exe"):
        script += ".exe"
    assert os.path.exists(script), "pip did not install the fastscore command: " + script
    res = subprocess.run([script, "--version"], capture_output=True, text=True, cwd=ROOT,
                         env=_cli_env(), timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "fastscore %s" % fastscore.__version__


def test_unbuilt_checkout_says_so(tmp_path):
    """Importing fastscore from a source tree without built kernels is a clear ImportError
    (not a mix of the tree and an installed build)."""
    import shutil

    tree = tmp_path / "checkout"
    shutil.copytree(SOURCE_PKG, tree / "fastscore",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    (tree / "setup.py").write_text("# a checkout\n")
    res = subprocess.run([sys.executable, "-m", "fastscore", "--version"], capture_output=True,
                         text=True, cwd=str(tree), env=_cli_env(), timeout=120)
    assert res.returncode != 0
    assert "ImportError" in res.stderr and "source checkout without an in-place build" \
        in res.stderr, res.stderr
    assert "pip install" in res.stderr


def test_estimate_smoke():
    est = fastscore.estimate(fastscore.Normal(np.array([0.0, 1.0]), 2.0), fastscore.fn.power(2),
                             n=20_000, rng=0, method="rloo")
    exact = np.array([0.0, 2.0])
    assert np.all(np.abs(est.grad["loc"] - exact) < 4 * est.stderr["loc"])


@pytest.mark.parametrize("module", ["_kernels", "_finish"])
def test_stub_matches_the_extension(module):
    """fastscore/<module>.pyi names every public object of the compiled module,
    nothing more, and each function's parameters in the same order."""
    import ast
    import importlib
    import inspect

    ext = importlib.import_module("fastscore." + module)
    stub = os.path.join(os.path.dirname(fastscore.__file__), module + ".pyi")
    tree = ast.parse(open(stub, encoding="utf-8").read())
    declared = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            declared[node.name] = node
        elif isinstance(node, ast.AnnAssign):
            declared[node.target.id] = node
    public_stub = {n for n in declared if not n.startswith("_")}
    public_runtime = {n for n, v in vars(ext).items()
                      if not n.startswith("_") and not inspect.ismodule(v)}
    assert public_stub == public_runtime, (
        "only in the stub: %s; only in the extension: %s"
        % (sorted(public_stub - public_runtime), sorted(public_runtime - public_stub)))
    for name in sorted(public_stub):
        node = declared[name]
        if isinstance(node, ast.FunctionDef):
            stub_params = [a.arg for a in node.args.args + node.args.kwonlyargs]
            assert stub_params == list(inspect.signature(getattr(ext, name)).parameters), name


def test_cli_config_and_help(capsys):
    from fastscore.__main__ import main

    assert main(["config"]) == 0
    assert capsys.readouterr().out.startswith("fastscore %s" % fastscore.__version__)
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_cli_demo_estimates_agree_with_the_exact_values(capsys):
    """The demo's table: six rows, each estimate within 4 standard errors (fixed seeds)."""
    from fastscore.__main__ import main

    assert main(["demo"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [ln for ln in out if ": " in ln and "+-" in ln]
    assert len(rows) == 6, rows
    # each block of two rows opens with its context: what, n, threads, time
    contexts = [i for i, ln in enumerate(out)
                if re.search(r": n = (\d x )?\de\d+, \d+ threads, \d+ ms$", ln)]
    assert len(contexts) == 3 and all(out[i + 1] in rows and out[i + 2] in rows
                                      for i in contexts), out
    for row in rows:
        est, _, se, exact, z, rate = row.split()[-6:]
        assert abs(float(z)) < 4, row
        assert abs(float(est) - float(exact)) < 4 * float(se), row
        assert float(rate) > 0, row


def test_cli_bench_prints_its_tables(capsys):
    from fastscore.__main__ import main

    assert main(["bench"]) == 0
    out = capsys.readouterr().out
    for what in ("floor", "fused built-in f", "NumPy one-liner", "fused rloo", "Per-call overhead"):
        assert what in out, what
