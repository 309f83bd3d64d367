"""Batch numbers for a list of moves: the executor runs one batch at a time, each until fully in sync.

Limits: in one batch at most `max_moves_per_broker` moves keep any broker busy (`move_work` says which
brokers a move occupies) and at most `max_bytes_per_batch` bytes are copied (a larger move runs alone).

Within the limits the aim is the makespan. A batch lasts as long as its busiest broker needs (its
"level"), so a plan costs the sum of the levels, and nothing beats the bytes of the busiest broker
overall. Moves are placed largest first (LPT) into the batch that raises the level least, ties going
to the batch where the move's brokers end up least loaded. So big moves share early batches and small
ones fill in under their levels, while the busiest brokers' work is spread over every batch instead of
queueing behind the others. The batch count starts at the least the per-broker cap allows; a batch is
added only when no batch has room for a move.

Least-increase placement is myopic, and the least batch count is not always the best: three brokers
leading four partitions of similar size each, every move occupying all of them, a cap of five, give
batches of five, five and two moves whose busiest broker leads two, two and one of them (1.25x the
bound), where four batches of three, one partition per leader, are perfectly even. So a plan small
enough is placed again: with one more batch at a time up to twice the least count, each time both
by least increase and by least resulting load (`spread`, the classic rule for balancing), and the
lowest makespan wins (the fewer batches on a tie: each batch costs a wait for in-sync and an
election). Fleet-scale plans are placed once: `_TRIAL_BUDGET` caps the moves placed in all trials.

At 175,000 moves and hundreds of batches, each move looks at a few candidate batches only: the
earliest where all its brokers have a free slot (one AND over per-broker bitmasks of free slots), the
next one with room after the last batch its busiest broker used (spreading that broker's work round-
robin), and, for each broker that sends or receives bytes in this move, the batch where that broker is
least loaded so far (a lazy heap per broker).
"""

from __future__ import annotations

from collections.abc import Sequence
from heapq import heappop, heappush
from math import ceil

from migrator.movers.plan import BatchLimits, move_work

# (current replicas, target replicas, bytes to move)
Reassignment = tuple[tuple[int, ...], tuple[int, ...], int]


#: Moves placed in all trials of one plan; a plan with more moves than this is placed once.
_TRIAL_BUDGET = 20_000


def assign_batches(moves: Sequence[Reassignment], limits: BatchLimits) -> list[int]:
    """Batch number of each move, numbered from 0 with no empty batch."""
    if not moves:
        return []
    index: dict[int, int] = {}
    works = [
        [(index.setdefault(b, len(index)), w) for b, w in move_work(current, target, nb)]
        for current, target, nb in moves
    ]
    moves_of = [0] * len(index)
    work_of = [0] * len(index)
    for work in works:
        for b, w in work:
            moves_of[b] += 1
            work_of[b] += w
    least = max(ceil(c / limits.max_moves_per_broker) for c in moves_of)
    extra = min(least, _TRIAL_BUDGET // (2 * len(moves)) - 1)
    trials = [(least, False)]
    if extra >= 0:
        trials = [(n, spread) for n in range(least, least + extra + 1) for spread in (False, True)]
    best: tuple[int, int, list[int]] | None = None
    for n_batches, spread in trials:
        makespan, batch_of = _place(moves, works, work_of, limits, n_batches, spread)
        count = max(batch_of) + 1
        if best is None or (makespan, count) < best[:2]:
            best = (makespan, count, batch_of)
    assert best is not None
    return best[2]


def _place(
    moves: Sequence[Reassignment],
    works: list[list[tuple[int, int]]],
    work_of: list[int],
    limits: BatchLimits,
    n_batches: int,
    spread: bool,
) -> tuple[int, list[int]]:
    """(makespan in bytes, batch of each move) starting from `n_batches` batches, each move going where
    it raises the level least, or with `spread` where its busiest broker ends up least loaded."""
    cap_moves = limits.max_moves_per_broker
    cap_bytes = limits.max_bytes_per_batch
    n_brokers = len(work_of)
    # Brokers are dense indexes here; per broker and batch: bytes, moves, and (bit k of `free`) room.
    loads = [[0] * n_batches for _ in range(n_brokers)]
    counts = [[0] * n_batches for _ in range(n_brokers)]
    all_batches = (1 << n_batches) - 1
    free = [all_batches] * n_brokers
    next_batch = [0] * n_brokers  # where the broker's round-robin resumes
    # (bytes, batch) per broker, lazily maintained: entries whose bytes are out of date are skipped.
    lightest = [[(0, k) for k in range(n_batches)] for _ in range(n_brokers)]
    level = [0] * n_batches
    batch_bytes = [0] * n_batches

    batch_of = [0] * len(moves)
    # Largest first; the sort is stable, so equal sizes keep the callers' order.
    for i in sorted(range(len(moves)), key=[nb for _, _, nb in moves].__getitem__, reverse=True):
        work = works[i]
        nb = moves[i][2]
        fits = all_batches
        busiest = work[0][0]
        for b, _ in work:
            fits &= free[b]
            if work_of[b] > work_of[busiest]:
                busiest = b
        candidates = []
        if fits:
            candidates.append((fits & -fits).bit_length() - 1)
            after = fits >> next_batch[busiest]
            if after:
                k = next_batch[busiest] + (after & -after).bit_length() - 1
                if k not in candidates:
                    candidates.append(k)
            for b, w in work:
                if not w:
                    continue
                heap, load, room = lightest[b], loads[b], free[b]
                while heap and (load[heap[0][1]] != heap[0][0] or not (room >> heap[0][1]) & 1):
                    heappop(heap)
                if heap and (fits >> heap[0][1]) & 1 and heap[0][1] not in candidates:
                    candidates.append(heap[0][1])
            if cap_bytes:
                # An empty batch takes any move: one larger than the cap runs alone.
                candidates = [k for k in candidates if not batch_bytes[k] or batch_bytes[k] + nb <= cap_bytes]
                if not candidates:
                    candidates = [
                        k
                        for k in range(n_batches)
                        if (fits >> k) & 1 and (not batch_bytes[k] or batch_bytes[k] + nb <= cap_bytes)
                    ]
        best = None
        for k in candidates:
            worst = 0
            for b, w in work:
                if loads[b][k] + w > worst:
                    worst = loads[b][k] + w
            score = (0 if spread else max(worst - level[k], 0), worst, k)
            if best is None or score < best:
                best = score
        if best is None:
            k = n_batches
            n_batches += 1
            level.append(0)
            batch_bytes.append(0)
            all_batches |= 1 << k
            for b in range(n_brokers):
                loads[b].append(0)
                counts[b].append(0)
                free[b] |= 1 << k
                heappush(lightest[b], (0, k))
        else:
            k = best[2]
        batch_of[i] = k
        batch_bytes[k] += nb
        for b, w in work:
            load = loads[b][k] = loads[b][k] + w
            count = counts[b][k] = counts[b][k] + 1
            next_batch[b] = k + 1
            if load > level[k]:
                level[k] = load
            if count == cap_moves:
                free[b] &= ~(1 << k)
            elif w:
                heappush(lightest[b], (load, k))
    used = sorted(set(batch_of))
    renumber = {k: n for n, k in enumerate(used)}
    return sum(level), [renumber[k] for k in batch_of]
