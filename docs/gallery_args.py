"""The command line each example runs with in the gallery (sphinx-gallery's ``reset_argv``).

The examples are scripts (``python examples/NAME.py [options]``); the gallery
runs each as ``__main__`` at its default size, the one the README quotes (about
a minute or two for all thirteen on one core), with ``--plot`` to a scratch file (the
figure itself is taken from matplotlib's open figures).  ``FASTSCORE_DOCS_QUICK=1``
runs them at the small sizes below (about 20 s in all), for editing the docs.
"""

import os
import pathlib
import tempfile

#: example -> its small command line (FASTSCORE_DOCS_QUICK=1)
QUICK = {
    "asian_option": ["--n", "20000", "--n-ref", "100000"],
    "bandit_policy_gradient": ["--steps", "150"],
    "bbvi_logistic": ["--steps", "150", "--samples", "16"],
    "bbvi_poisson_gamma": ["--steps", "600"],
    "cartpole_reinforce": ["--episodes", "60"],
    "discrete_gradients": ["--n", "20000", "--rows", "200"],
    "estimators": ["--n", "20000"],
    "gaussian_policy_reinforce": ["--iterations", "25", "--episodes", "8"],
    "greeks": ["--n", "100000"],
    "greeks_second_order": ["--n", "100000"],
    "indecater_benchmark": ["--quick"],
    "natural_gradient_bbvi": ["--max-steps", "400", "--natural-steps", "20", "--adam-lrs", "3"],
    "variance": ["--n", "20000"],
}

_SCRATCH = pathlib.Path(tempfile.mkdtemp(prefix="fastscore-gallery-"))


def reset_argv(gallery_conf, script_vars):
    """The arguments (after the script's name) for one example of the gallery."""
    name = pathlib.Path(script_vars["src_file"]).stem
    plot = ["--plot", str(_SCRATCH / (name + ".png"))]
    if os.environ.get("FASTSCORE_DOCS_QUICK") == "1":
        return QUICK[name] + plot
    return plot
