"""Sphinx configuration of fastscore's documentation site.

Build it (from the repository's root) with::

    python -m pip install ".[docs]" && python -m sphinx -W --keep-going -n -b html docs docs/_build/html

Autodoc documents the *installed* fastscore: this file never puts the source
tree on sys.path (the uncompiled tree cannot be imported).  It adds only
``examples/`` (for the examples' shared ``_plotting`` helper, which the gallery
runs) and ``docs/`` (for the gallery's command lines, ``gallery_args.py``).

The gallery runs every example at its default size (about a minute for all of
them); ``FASTSCORE_DOCS_QUICK=1`` runs them small (``gallery_args.py``).
"""

import importlib.util
import os
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
# `python -m sphinx` run from the repository's root puts the root (the uncompiled
# source tree) first on sys.path: take it out, so that `import fastscore` finds the
# installed package.  docs/ and examples/ are appended, never first.
# FASTSCORE_DOCS_INPLACE=1 documents an in-place build of the tree instead.
INPLACE = os.environ.get("FASTSCORE_DOCS_INPLACE") == "1"
if INPLACE:
    sys.path.insert(0, str(ROOT))
else:
    sys.path[:] = [p for p in sys.path if pathlib.Path(p or os.curdir).resolve() != ROOT]
sys.path.append(str(HERE))
sys.path.append(str(ROOT / "examples"))

import fastscore  # noqa: E402

from gallery_args import reset_argv  # noqa: E402

_here_tree = ROOT / "fastscore"
if pathlib.Path(fastscore.__file__).resolve().parent == _here_tree.resolve() and not INPLACE:
    raise RuntimeError("the docs document the installed fastscore, but %s was imported from "
                       "the source tree: run Sphinx with `python -m sphinx` from an environment "
                       "where fastscore is installed (python -m pip install \".[docs]\"), or set "
                       "FASTSCORE_DOCS_INPLACE=1 for an in-place build" % fastscore.__file__)

# The families' part of the API reference, from the installed package's registry
# (fastscore.families.__all__), so a new family needs no edit here: api/index.rst
# includes this generated list.
_FAMILIES_INC = HERE / "api" / "families.rst"
_FAMILIES_INC.write_text(
    ".. currentmodule:: fastscore\n\n.. autosummary::\n   :toctree: generated/\n"
    "   :nosignatures:\n\n   Distribution\n"
    + "".join("   %s\n" % name for name in fastscore.families.__all__), encoding="utf-8")

project = "fastscore"
author = "fastscore developers"
copyright = "2026, fastscore developers"
release = fastscore.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "gallery_args.py", "check_*.py",
                    "api/families.rst",   # generated above; api/index.rst includes it
                    "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "auto_examples/*.json", "auto_examples/*.md5"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"

# -- cross-references: nitpicky, every one must resolve ----------------------
nitpicky = True
# Intersphinx needs the other projects' inventories, which CI (no general
# internet) cannot fetch and which this repository does not ship: the API
# pages name numpy, scipy, torch, JAX and Dask types as plain text instead.
# Set FASTSCORE_DOCS_INTERSPHINX=1 where the internet is reachable to link them.
if os.environ.get("FASTSCORE_DOCS_INTERSPHINX") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "torch": ("https://docs.pytorch.org/docs/stable", None),
        "jax": ("https://docs.jax.dev/en/latest", None),
        "distributed": ("https://distributed.dask.org/en/stable", None),
    }

# -- autodoc / autosummary / numpydoc ---------------------------------------
# the pages' stubs: api/index.rst and the families' list it includes (autosummary's
# generation does not follow includes, so it is named too)
autosummary_generate = ["api/index.rst", "api/families.rst"]
autosummary_imported_members = True
autodoc_typehints = "none"          # the numpydoc Parameters say the types
autodoc_default_options = {"member-order": "bysource"}
# The bridges' pages need their frameworks; where one is not installed its
# module is documented against a stand-in (its doctests run in the test suite).
autodoc_mock_imports = [m for m in ("torch", "jax") if importlib.util.find_spec(m) is None]
numpydoc_show_class_members = False  # the class template lists the members itself
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()
numpydoc_attributes_as_param_list = True

# -- MyST (the user guide is Markdown, much of it the README's) --------------
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 4
suppress_warnings = ["myst.header", "config.cache"]  # the gallery's reset_argv is a function

# -- sphinx-gallery over examples/ ------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/[a-z][a-z_]*\.py$",    # run every example ...
    "ignore_pattern": r"_plotting\.py",          # ... but not their plotting helper
    "reset_argv": reset_argv,                     # small command lines (gallery_args.py)
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "plot_gallery": "True",
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib", "seaborn"),
    "show_memory": False,
    "min_reported_time": 5,
}

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "fastscore %s" % release
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_align": "left",
    "header_links_before_dropdown": 8,
}
html_static_path = []
html_show_sourcelink = False
html_last_updated_fmt = None


# -- docstrings: shapes such as (m, *batch_shape, *event_shape) and absolute values
# such as log |dy/dx| in plain text are the docstrings' convention, but in RST a bare
# `*name` opens emphasis and `|x|` is a substitution.  Escape such stars and bars in
# prose (not in ``literals``, doctest lines or numpydoc parameter names) before
# numpydoc parses the docstring, so the docstrings stay plain for help().
_STAR = re.compile(r"(?<![\w`*\\])(\*{1,2})(?=[A-Za-z_(])")
_BAR = re.compile(r"(?<![\w\\|])\|(?=[^\s|])")
_LITERAL = re.compile(r"(``.+?``)", re.S)          # may span lines
_ROLE = re.compile(r"(`[^`]*`)")
_PARAM = re.compile(r"^\s*\*{1,2}\w+\s*(:|$)")


def _escape_line(line):
    stripped = line.lstrip()
    if stripped.startswith((">>>", "...")) or _PARAM.match(line):
        return line
    parts = _ROLE.split(line)
    for k in range(0, len(parts), 2):          # the even parts are outside `roles`
        parts[k] = _STAR.sub(lambda m: "\\*" * len(m.group(1)), parts[k])
        parts[k] = _BAR.sub(r"\\|", parts[k])
    return "".join(parts)


def _escape_markup(app, what, name, obj, options, lines):
    pieces = _LITERAL.split("\n".join(lines))
    for k in range(0, len(pieces), 2):         # the even pieces are outside ``literals``
        pieces[k] = "\n".join(_escape_line(line) for line in pieces[k].split("\n"))
    lines[:] = "".join(pieces).split("\n")


def setup(app):
    app.connect("autodoc-process-docstring", _escape_markup, priority=100)
