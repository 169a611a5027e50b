"""The distributions' base classes and shared helpers, for the families' units
(``fastscore/families/<unit>.py``).  For now they live in distributions.py,
which this module re-exports."""

from .distributions import Distribution, _LocationScale, _ScalarFamily  # noqa: F401

__all__ = ["Distribution"]
