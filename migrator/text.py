"""How messages name sets of things: the one wording every error, verdict and plan uses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

#: How many items a message names before it says "and N more".
SHOWN = 10


def id_list(ids: Iterable[int]) -> str:
    """Broker or node IDs, sorted: '1, 2, 3', 'none' when empty, the first SHOWN and 'and N more'."""
    return name_list([str(i) for i in sorted(ids)]) or "none"


def name_list(names: Sequence[str]) -> str:
    """The first SHOWN names, then 'and N more'."""
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def byte_size(n: int) -> str:
    """Bytes in decimal units, as disks and throttles are sold: '1.5 GB'."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
