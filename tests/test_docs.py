"""The examples in the docstrings run and print what they say (doctests), and every
public name has a numpydoc docstring with the sections the reference shows."""

import ast
import doctest
import importlib
import importlib.util
import inspect
import pathlib
import re

import pytest

MODULES = [
    "fastscore",
    "fastscore.estimate",
    "fastscore._distribution",
    "fastscore.fn",
    "fastscore._rng",
    "fastscore._config",
    "fastscore._bridge",
    "fastscore.joint",
    "fastscore.transforms",
    "fastscore.kl",
    "fastscore._greeks",
]
#: every family's module (fastscore/families/<name>.py): its class and its examples
MODULES += ["fastscore.families." + name for name in sorted(
    path.stem for path in (pathlib.Path(__file__).resolve().parent.parent / "fastscore"
                           / "families").glob("*.py") if not path.stem.startswith("_"))]

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS)
    assert result.attempted > 0, "no examples found in %s" % name
    assert result.failed == 0


# -- every public name ----------------------------------------------------------------
#: the modules whose __all__ is public besides fastscore's own, and the framework each needs
PUBLIC_MODULES = {"fastscore.fn": None, "fastscore.transforms": None,
                  "fastscore.torch": "torch", "fastscore.jax": "jax"}
#: public names that raise nothing a user can trigger: no Raises section expected
NO_RAISES = {
    "fastscore.show_config",                  # prints the configuration
    "fastscore.Estimate",                     # a result, made by estimate()
    "fastscore.Greeks",                       # a result, made by greeks()
    "fastscore.fn.Function",                  # the built-ins' base class
    "fastscore.transforms.Transform",         # the transforms' base class
    "fastscore.transforms.ExpTransform",      # no parameters
    "fastscore.transforms.SigmoidTransform",
    "fastscore.transforms.TanhTransform",
}
#: constants: documented in the reference, no docstring of their own
CONSTANTS = {"__version__", "CHUNK_SIZE"}


def _module_all(modname):
    """A module's __all__, read from its source (the bridges need their framework)."""
    tree = ast.parse(pathlib.Path(importlib.util.find_spec(modname).origin).read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__"
                                                for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError("%s has no literal __all__" % modname)


def _public_names():
    import fastscore
    names = [("fastscore", n, None) for n in fastscore.__all__ if n not in CONSTANTS
             and not inspect.ismodule(getattr(fastscore, n))]
    for modname, needs in PUBLIC_MODULES.items():
        names += [(modname, n, needs) for n in _module_all(modname)]
    return names


PUBLIC = _public_names()


def _object(modname, name, needs):
    if needs is not None:
        pytest.importorskip(needs, reason="%s.%s needs %s" % (modname, name, needs))
    return getattr(importlib.import_module(modname), name)


def _sections(doc):
    """The numpydoc section titles of a docstring (a title line underlined with dashes)."""
    lines = doc.splitlines()
    return {lines[i].strip() for i in range(len(lines) - 1)
            if lines[i].strip() and re.fullmatch(r"-{3,}", lines[i + 1].strip())
            and len(lines[i + 1].strip()) == len(lines[i].strip())}


def _takes_parameters(obj):
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return False
    return any(p.name != "self" for p in sig.parameters.values())


def test_every_public_name_is_listed():
    import fastscore
    assert len(PUBLIC) >= 45, PUBLIC
    assert {n for _, n, _ in PUBLIC} >= {"estimate", "kl", "Independent", "expectation",
                                         "surrogate", "power", "TanhTransform"}
    assert CONSTANTS <= set(fastscore.__all__)


@pytest.mark.parametrize("modname,name,needs", PUBLIC,
                         ids=["%s.%s" % (m, n) for m, n, _ in PUBLIC])
def test_public_docstring_sections(modname, name, needs):
    """Parameters (where it takes any), Returns (functions), Raises (where it raises),
    Examples: the numpydoc sections the API reference renders."""
    obj = _object(modname, name, needs)
    doc = inspect.getdoc(obj) or ""
    full = "%s.%s" % (modname, name)
    assert doc, "%s has no docstring" % full
    found = _sections(doc)
    want = {"Examples"}
    if _takes_parameters(obj):
        want.add("Parameters")
    if not inspect.isclass(obj):
        want.add("Returns")
    if full not in NO_RAISES:
        want.add("Raises")
    missing = want - found
    assert not missing, "%s's docstring lacks %s" % (full, ", ".join(sorted(missing)))


@pytest.mark.parametrize("modname,name,needs", PUBLIC,
                         ids=["%s.%s" % (m, n) for m, n, _ in PUBLIC])
def test_public_examples_run(modname, name, needs):
    """Each public name's Examples (and its methods') run and print what they say."""
    obj = _object(modname, name, needs)
    full = "%s.%s" % (modname, name)
    tests = [t for t in doctest.DocTestFinder().find(obj, full, globs={}) if t.examples]
    assert tests, "%s has no examples" % full
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for t in tests:
        runner.run(t)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "%d of %d examples of %s failed" % (result.failed,
                                                                   result.attempted, full)
