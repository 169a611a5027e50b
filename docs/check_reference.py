"""Check that every public name of fastscore has its entry in the built API reference.

    python docs/check_reference.py docs/_build/html

Public names: ``fastscore.__all__`` and the ``__all__`` of the public modules
(fastscore.fn, fastscore.transforms, fastscore.kl, fastscore.torch,
fastscore.jax).  Each must be an object of the site's inventory (objects.inv)
and, unless it is a module or a constant, have its own page under
``api/generated/``.  Exits with status 1 naming what is missing.
"""

import ast
import importlib
import importlib.util
import pathlib
import sys
import types

from sphinx.util.inventory import InventoryFile

MODULES = ["fastscore.fn", "fastscore.transforms", "fastscore.kl", "fastscore.torch",
           "fastscore.jax"]


def module_all(modname):
    """A module's __all__, read from its source where importing it needs torch or JAX."""
    try:
        return list(importlib.import_module(modname).__all__)
    except ImportError:
        tree = ast.parse(pathlib.Path(importlib.util.find_spec(modname).origin).read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                    getattr(t, "id", None) == "__all__" for t in node.targets):
                return list(ast.literal_eval(node.value))
        raise


def public_names():
    """Fully qualified public names, as the reference spells them."""
    fs = importlib.import_module("fastscore")
    names = []
    for name in fs.__all__:
        obj = getattr(fs, name)
        if isinstance(obj, types.ModuleType):
            names.append(obj.__name__)
        else:
            names.append("fastscore." + name)
    for modname in MODULES:
        if modname == "fastscore.kl":        # the module's one name is fastscore.kl itself
            continue
        names.append(modname)
        names += ["%s.%s" % (modname, n) for n in module_all(modname)]
    return sorted(set(names))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    html = pathlib.Path(argv[0] if argv else "docs/_build/html")
    with open(html / "objects.inv", "rb") as stream:
        try:
            inv = InventoryFile.load(stream, "", lambda base, uri: uri)
        except TypeError:  # Sphinx's older signature
            inv = InventoryFile.load(stream, "", pathlib.PurePosixPath)
    data = inv.data if hasattr(inv, "data") else inv
    documented = {}
    for role, entries in data.items():
        if role.startswith("py:"):
            for name in entries:
                documented[name] = role
    missing, no_page = [], []
    for name in public_names():
        if name not in documented:
            missing.append(name)
        elif documented[name] not in ("py:module", "py:data") and \
                not (html / "api" / "generated" / (name + ".html")).is_file():
            no_page.append(name)
    for name in missing:
        print("not in the reference: %s" % name)
    for name in no_page:
        print("no page of its own: %s (api/generated/%s.html)" % (name, name))
    total = len(public_names())
    if missing or no_page:
        print("%d of %d public names missing" % (len(missing) + len(no_page), total))
        return 1
    print("all %d public names are in the reference, each function and class on its own page"
          % total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
