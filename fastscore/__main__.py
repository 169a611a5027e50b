"""Command line: ``fastscore {demo,bench,config} | --version``.

The same as ``python -m fastscore ...`` wherever the package is importable;
the ``fastscore`` command works from any directory, a source checkout's
root included (where ``python -m`` would import the unbuilt source tree).
"""

import argparse
import sys

from ._version import __version__


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastscore",
                                     description="fastscore command line")
    parser.add_argument("--version", action="version", version="fastscore %s" % __version__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("demo", help="estimate gradients with known exact values and print a table")
    sub.add_parser("config", help="print the build configuration (fastscore.show_config())")
    bench = sub.add_parser("bench", help="run a quick benchmark report and print its tables")
    bench.add_argument("--plot", metavar="PATH", help="also write a throughput plot (PNG)")
    bench.add_argument("--full", action="store_true", help="more rounds and sizes")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from ._demo import run

        run()
    elif args.command == "bench":
        from ._bench import run

        run(quick=not args.full, plot=args.plot)
    elif args.command == "config":
        from ._config import show_config

        show_config()
    else:
        parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
