"""The estimator kinds, one module each (registered in fastscore._kinds.KINDS).

A kind's module holds its class: the options it takes (fastscore._options),
its plan transformation (``plan_for``, ``plans``), its family check, its
NumPy reference step (``reference_terms``/``terms``, or ``wave_terms`` for a
kind that runs in NumPy waves), its finish and compiled finish, and the
warnings and wording of its messages.  ``base`` holds what they share.
"""
