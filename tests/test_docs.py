"""The examples in the docstrings run and print what they say (doctests)."""

import doctest
import importlib

import pytest

MODULES = [
    "fastscore",
    "fastscore.estimate",
    "fastscore.distributions",
    "fastscore.fn",
    "fastscore._rng",
    "fastscore._config",
    "fastscore._bridge",
    "fastscore.joint",
    "fastscore.transforms",
    "fastscore.kl",
    "fastscore._greeks",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, "no examples found in %s" % name
    assert result.failed == 0
