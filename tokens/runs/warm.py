"""What a process that executes runs builds at its start, not inside a run's first batch.

A Load's first rows should wait for the network only. Left to first use, the channel layer's client
(importing redis: ~0.1 s) and the link validator's pattern (~0.05 s) were built inside the first
batch of the first run a worker, the feed or a web process executed.

Then what is built is frozen out of the garbage collector's reach: the modules, settings and clients
of a process live as long as it does, and each full collection walked them all again (9 collections
of 0.1 s in a 10,000-launch backfill: a tenth of its CPU, measured with gc.callbacks).

And the youngest generation is collected after 10,000 new container objects rather than 700: a
backfill makes and drops a launch's dicts, lists and records by the thousand (freed as they go, by
their counts), and each young collection walked what was alive at that moment. A 10,000-launch
backfill ran about 290 young, 26 middle and 2 full collections, 0.1 s (5 % of its CPU); with 10,000,
about a dozen young ones, 0.03 s. The older generations keep their thresholds (each ten of the one
below), so cyclic garbage is still collected, later.
"""

import gc

from channels.layers import get_channel_layer

from tokens.sources.links import prepare as prepare_links

_warmed = False
YOUNG_GENERATION_THRESHOLD = 10_000


def warm_up() -> None:
    """Once per process, at its start (later calls do nothing: a freeze mid-life would keep whatever
    is alive then, a request or a loop, for good)."""
    global _warmed
    if _warmed:
        return
    _warmed = True
    get_channel_layer()
    prepare_links()
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, oldest)
