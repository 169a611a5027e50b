"""Progress bars for long runs: tqdm when installed, a small built-in bar otherwise.

Bars are updated between waves of samples (never per sample), written to
stderr, and erased when the run ends.
"""

import sys
import time


class _TextBar:
    """A one-line bar on stderr, redrawn at most every 0.1 s."""

    width = 30

    def __init__(self, desc):
        self.desc = desc
        self.last = 0.0
        self.fraction = 0.0
        self.drawn = False

    def update(self, fraction):
        self.fraction = min(max(fraction, 0.0), 1.0)
        now = time.monotonic()
        if now - self.last < 0.1 and self.fraction < 1.0:
            return
        self.last = now
        filled = int(round(self.fraction * self.width))
        sys.stderr.write("\r%s [%s%s] %3d%%" % (self.desc, "#" * filled, " " * (self.width - filled),
                                               int(self.fraction * 100)))
        sys.stderr.flush()
        self.drawn = True

    def close(self):
        if self.drawn:
            sys.stderr.write("\r" + " " * (len(self.desc) + self.width + 8) + "\r")
            sys.stderr.flush()


class _TqdmBar:
    def __init__(self, desc, tqdm):
        self.bar = tqdm(total=1000, desc=desc, leave=False, file=sys.stderr,
                        bar_format="{desc} {bar} {percentage:3.0f}% [{elapsed}<{remaining}]")
        self.pos = 0

    def update(self, fraction):
        target = int(min(max(fraction, 0.0), 1.0) * 1000)
        if target > self.pos:
            self.bar.update(target - self.pos)
            self.pos = target

    def close(self):
        self.bar.close()


class NoBar:
    def update(self, fraction):
        pass

    def close(self):
        pass


def make_bar(enabled, desc="fastscore"):
    """A bar with update(fraction) and close(); a no-op one when not enabled."""
    if not enabled:
        return NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _TextBar(desc)
    return _TqdmBar(desc, tqdm)
