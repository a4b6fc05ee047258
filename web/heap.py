"""The garbage collector of a server process (ADR 0014): no long pauses on a live feed.

CPython's full (generation 2) collection walks every tracked object. After start-up the heap
holds the schema, the ORM models, the catalog and every imported module: hundreds of thousands
of objects that live as long as the process, walked again at every full collection, which
stopped the event loop for tens of milliseconds while a thousand subscribers waited for their
frames (issue 11: bus -> client p99 7-58x the raw baseline while p50 stayed low). So, once the
app is up:

- `gc.freeze()` moves what start-up made to the permanent generation, never walked again.
- Full collections wait for 1,000 middle-generation collections instead of 10. While sockets
  connect, their objects survive into the oldest generation and CPython ran a full collection
  each time it grew by a quarter: 14 of them, 1.6 s each, while 3,000 sockets connected on the
  loaded bench machine (this module's metric). Cyclic garbage is still collected young; what
  reaches the oldest generation waits longer (about 7 million allocations).
- The young threshold stays CPython's 700: a young collection walks only the young generation,
  and a larger one only made each pause longer (at 50,000: 100-230 ms each; ADR 0014).

The pauses that remain are counted in `smsrooms_gc_pause_seconds` (/metrics).
"""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import Histogram

FULL_COLLECTION_AFTER = 1_000  # middle-generation collections (CPython: 10)
GC_PAUSES = Histogram(
    "smsrooms_gc_pause_seconds",
    "Garbage collector pauses, by generation",
    ["generation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)
_started: list[float] = []


def _observe(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started.append(time.perf_counter())
    elif _started:
        GC_PAUSES.labels(str(info["generation"])).observe(time.perf_counter() - _started.pop())


def settle_after_start_up() -> None:
    """Called once the app is up (idempotent: several apps may share a process in tests)."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_AFTER)
    if _observe not in gc.callbacks:
        gc.callbacks.append(_observe)
