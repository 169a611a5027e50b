"""pytest-benchmark suite settings: sizes come from FASTSCORE_BENCH_SIZES (comma separated)."""

import os

SIZES = [int(float(s)) for s in os.environ.get("FASTSCORE_BENCH_SIZES", "1e4,1e6").split(",")]
