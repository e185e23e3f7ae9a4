"""The Python process's collector settings around a run over many items
(``import``, ``end --from``): set for the run, restored after it.

Python's cycle collector runs after every 700 new container objects and, now
and then, walks every object the process holds. A run over many items makes a
few dozen short-lived dicts and tuples per item and holds a batch of items at a
time, so the collector ran thousands of times, each pass going over the
interpreter's own modules and the libraries again: about 4 µs of CPU per item of
a bulk end and a fifth of an import's time (benchmarks/notify_bulk.py,
docs/performance.md).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: new container objects between two collections of the youngest generation
#: (Python's default is 700); the older generations keep their default ratios
YOUNG_THRESHOLD = 50_000

_depth = 0


@contextmanager
def collector_set_aside(young_threshold: int = YOUNG_THRESHOLD) -> Iterator[None]:
    """During the block, what was loaded before it (modules, the catalogue, the
    command line) is set aside from the collector (``gc.freeze``) and the youngest
    generation is collected less often; both are restored when the block ends,
    however it ends. Cycles are still collected; memory stays bounded by the
    threshold. A block inside another changes nothing: the outer one restores."""
    global _depth
    if _depth:
        yield
        return
    saved = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(young_threshold, *saved[1:])
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        gc.set_threshold(*saved)
        gc.unfreeze()
