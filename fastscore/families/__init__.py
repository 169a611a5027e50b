"""The distributions' units, one per distribution: the kernel code of its
kernel families (``<unit>.pxi``, and ``<unit>.h`` for the fused folds),
included by the generated ``_kernels.pyx`` for each unit the family table of
``fastscore/_specs.py`` names."""

from .laplace import Laplace  # noqa: F401
