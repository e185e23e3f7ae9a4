"""Settings of the Python process for the long runs over many items (``import``,
``end --from``).

Python's cycle collector runs after every 700 new container objects and, now
and then, walks every object the process holds. A run over many items makes a
few dozen short-lived dicts and tuples per item and holds a batch of 500 items'
statements at a time, so the collector ran thousands of times, each pass going
over the interpreter's own modules and the libraries again: about 4 µs of CPU
per item of a bulk end (benchmarks/notify_bulk.py, docs/performance.md).
"""

from __future__ import annotations

import gc

#: new container objects between two collections of the youngest generation
#: (Python's default is 700); the older generations keep their default ratios
YOUNG_THRESHOLD = 50_000


def prepare_long_run() -> None:
    """Before a run over many items: what was loaded so far (modules, the catalogue,
    the command line) is set aside from the collector for the rest of the process
    (``gc.freeze``), and the youngest generation is collected less often. Cycles
    are still collected; memory stays bounded by the threshold."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
