"""The workload checker's accounting, on synthetic streams of acknowledged and consumed messages."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given
from hypothesis import strategies as st

from migrator.sandbox.workload_checker import Consumption, SeqSet, WorkloadChecker


def _ack_all(checker: WorkloadChecker, key: str, seqs: range, partition: int = 0) -> None:
    for offset, seq in enumerate(seqs):
        checker.record_sent()
        checker.record_ack(key, seq, partition, offset, latency_ms=1.0)


def _final(checker: WorkloadChecker):
    return checker.report(final=True, duration_s=1.0)


# --- SeqSet ---------------------------------------------------------------------------------------


@given(st.lists(st.integers(0, 60)), st.lists(st.integers(0, 60)))
def test_seqset_behaves_like_a_set(adds: list[int], other_adds: list[int]) -> None:
    seqs, model = SeqSet(), set()
    for n in adds:
        assert seqs.add(n) is (n not in model)
        model.add(n)
    other, other_model = SeqSet(), set(other_adds)
    for n in other_adds:
        other.add(n)

    assert len(seqs) == len(model)
    assert seqs.max == (max(model) if model else None)
    assert all((n in seqs) is (n in model) for n in range(-1, 62))
    assert seqs.count_not_in(other) == len(model - other_model)
    ranges = list(seqs.ranges())
    assert {n for start, end in ranges for n in range(start, end)} == model
    # Sorted, disjoint and never touching: one range per run of consecutive numbers.
    assert all(end < next_start for (_, end), (next_start, _) in zip(ranges, ranges[1:]))


def test_seqset_memory_is_one_range_per_gap_not_one_entry_per_message() -> None:
    seqs = SeqSet()
    for n in range(100_000):
        if n != 500:  # one message missing
            seqs.add(n)
    assert len(seqs) == 99_999
    assert list(seqs.ranges()) == [(0, 500), (501, 100_000)]
    seqs.add(500)
    assert list(seqs.ranges()) == [(0, 100_000)]


def test_seqset_rejects_negative_numbers() -> None:
    try:
        SeqSet().add(-1)
    except ValueError:
        return
    raise AssertionError("a negative sequence number was accepted")


# --- checker, by example --------------------------------------------------------------------------


def test_healthy_stream_has_nothing_to_report() -> None:
    checker = WorkloadChecker()
    _ack_all(checker, "k", range(10))
    outcomes = [checker.record_consumed("k", seq, 0, seq) for seq in range(10)]
    report = _final(checker)
    assert outcomes == [Consumption.FIRST] * 10
    assert (report.produced, report.acknowledged, report.consumed) == (10, 10, 10)
    assert (report.lost, report.duplicated, report.out_of_order, report.redelivered) == (0, 0, 0, 0)
    assert report.zero_loss


def test_acknowledged_messages_never_consumed_are_lost() -> None:
    checker = WorkloadChecker()
    _ack_all(checker, "k", range(10))
    for offset, seq in enumerate(s for s in range(10) if s not in (3, 7)):
        checker.record_consumed("k", seq, 0, offset)
    report = _final(checker)
    assert report.lost == 2
    assert report.consumed == 8
    assert report.out_of_order == 0  # a gap is loss, not reordering
    assert not report.zero_loss


def test_loss_at_the_tail_of_a_key_counts_too() -> None:
    checker = WorkloadChecker()
    _ack_all(checker, "a", range(5))
    _ack_all(checker, "b", range(5), partition=1)
    for seq in range(5):
        checker.record_consumed("a", seq, 0, seq)
    for seq in range(2):
        checker.record_consumed("b", seq, 1, seq)
    assert _final(checker).lost == 3


def test_a_snapshot_calls_lag_unconsumed_not_lost() -> None:
    checker = WorkloadChecker()
    _ack_all(checker, "k", range(4))
    checker.record_consumed("k", 0, 0, 0)
    snapshot = checker.report(final=False, duration_s=1.0)
    assert snapshot.lost is None
    assert snapshot.unconsumed == 3
    assert not snapshot.zero_loss


def test_failed_deliveries_are_not_loss_and_may_still_be_consumed() -> None:
    checker = WorkloadChecker()
    _ack_all(checker, "k", range(3))
    checker.record_sent()
    checker.record_failed()  # seq 3: delivery unconfirmed, but the broker may have written it
    checker.record_consumed("k", 0, 0, 0)
    checker.record_consumed("k", 1, 0, 1)
    checker.record_consumed("k", 2, 0, 2)
    checker.record_consumed("k", 3, 0, 3)
    report = _final(checker)
    assert (report.produced, report.acknowledged, report.failed, report.unresolved) == (4, 3, 1, 0)
    assert (report.consumed, report.lost) == (4, 0)


def test_in_flight_messages_are_unresolved() -> None:
    checker = WorkloadChecker()
    _ack_all(checker, "k", range(2))
    checker.record_sent()
    assert checker.report(final=False, duration_s=1.0).unresolved == 1


def test_the_same_message_at_a_new_offset_is_a_duplicate() -> None:
    checker = WorkloadChecker()
    _ack_all(checker, "k", range(3))
    log = [0, 1, 1, 2]  # seq 1 written twice
    outcomes = [checker.record_consumed("k", seq, 0, offset) for offset, seq in enumerate(log)]
    report = _final(checker)
    assert outcomes == [Consumption.FIRST, Consumption.FIRST, Consumption.DUPLICATE, Consumption.FIRST]
    assert (report.consumed, report.duplicated, report.lost, report.out_of_order) == (3, 1, 0, 0)


def test_re_reading_offsets_after_a_rebalance_is_a_redelivery_not_a_duplicate() -> None:
    checker = WorkloadChecker()
    _ack_all(checker, "k", range(4))
    for offset in (0, 1, 2, 1, 2, 3):  # rewound to the last committed offset 1
        checker.record_consumed("k", offset, 0, offset)
    report = _final(checker)
    assert (report.consumed, report.duplicated, report.redelivered, report.lost) == (4, 0, 2, 0)


def test_a_duplicate_read_again_after_a_rewind_is_counted_once() -> None:
    checker = WorkloadChecker()
    log = [0, 1, 1]
    for offset in (0, 1, 2, 0, 1, 2):
        checker.record_consumed("k", log[offset], 0, offset)
    report = _final(checker)
    assert (report.duplicated, report.redelivered) == (1, 3)


def test_a_lower_sequence_after_a_higher_one_is_out_of_order() -> None:
    checker = WorkloadChecker()
    _ack_all(checker, "k", range(4))
    outcomes = [checker.record_consumed("k", seq, 0, offset) for offset, seq in enumerate([0, 2, 1, 3])]
    report = _final(checker)
    assert outcomes[2] is Consumption.FIRST_OUT_OF_ORDER
    assert (report.out_of_order, report.lost, report.duplicated, report.consumed) == (1, 0, 0, 4)


def test_order_is_judged_per_key() -> None:
    checker = WorkloadChecker()
    checker.record_consumed("a", 5, 0, 0)
    assert checker.record_consumed("b", 0, 0, 1) is Consumption.FIRST
    assert _final(checker).out_of_order == 0


def test_foreign_records_are_counted_apart() -> None:
    checker = WorkloadChecker()
    checker.record_foreign()
    report = _final(checker)
    assert (report.foreign, report.consumed) == (1, 0)


def test_latency_percentiles_come_from_acknowledgements() -> None:
    checker = WorkloadChecker()
    assert _final(checker).produce_p50_ms is None
    for offset, ms in enumerate([1.0, 2.0, 3.0, 4.0, 100.0]):
        checker.record_ack("k", offset, 0, offset, latency_ms=ms)
    report = _final(checker)
    assert 3.0 <= report.produce_p50_ms <= 3.0 * 1.02
    assert report.produce_max_ms == 100.0
    assert 100.0 / 1.02 <= report.produce_p99_ms <= 100.0


def test_caught_up_once_past_every_acknowledged_offset() -> None:
    checker = WorkloadChecker()
    assert checker.caught_up()  # nothing acknowledged: nothing to wait for
    checker.record_ack("a", 0, partition=0, offset=9, latency_ms=1.0)
    checker.record_ack("b", 0, partition=1, offset=4, latency_ms=1.0)
    checker.record_positions({0: 10})
    assert not checker.caught_up()  # partition 1 not assigned yet
    checker.record_positions({0: 10, 1: 4})
    assert not checker.caught_up()  # offset 4 not read
    checker.record_positions({0: 10, 1: 5})
    assert checker.caught_up()


# --- checker against a naive model ----------------------------------------------------------------

PARTITIONS = 3
Message = tuple[int, int]  # (key, seq)


@dataclass
class NaiveModel:
    """The specification, written the obvious way: remember every message and every offset."""

    consumed: set[tuple[int, int]] = field(default_factory=set)
    read_offsets: set[tuple[int, int]] = field(default_factory=set)
    highest_seq: dict[int, int] = field(default_factory=dict)
    duplicated: int = 0
    out_of_order: int = 0
    redelivered: int = 0

    def read(self, key: int, seq: int, partition: int, offset: int) -> None:
        if (partition, offset) in self.read_offsets:
            self.redelivered += 1
        elif (key, seq) in self.consumed:
            self.duplicated += 1
        else:
            if seq < self.highest_seq.get(key, -1):
                self.out_of_order += 1
            self.consumed.add((key, seq))
            self.highest_seq[key] = max(seq, self.highest_seq.get(key, -1))
        self.read_offsets.add((partition, offset))


@st.composite
def reads_of(draw: st.DrawFn, length: int) -> list[int]:
    """Offsets a consumer reads from one partition: forward from 0, sometimes rewinding to re-read."""
    reads: list[int] = []
    high = 0
    for back, forward in draw(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 8)), max_size=4)):
        start = max(0, high - back)
        end = min(length, high + forward)
        reads.extend(range(start, end))
        high = max(high, end)
    if draw(st.booleans()):  # the drain reached the end of the log
        reads.extend(range(high, length))
    return reads


@st.composite
def streams(draw: st.DrawFn) -> tuple[set[Message], list[list[Message]], list[tuple[int, int]]]:
    """(acknowledged messages, the log per partition, the order of (partition, offset) reads)."""
    keys = draw(st.integers(1, 5))
    acked = draw(st.sets(st.tuples(st.integers(0, keys - 1), st.integers(0, 15)), max_size=40))
    # The log: acknowledged messages written 0 (lost), 1 or 2 (duplicated) times, in an order that
    # may break per-key order, plus a few messages that were written but never acknowledged.
    written = [m for m in sorted(acked) for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2])))]
    written += draw(st.lists(st.tuples(st.integers(0, keys - 1), st.integers(16, 20)), max_size=3))
    written = draw(st.permutations(written)) if draw(st.booleans()) else written
    log: list[list[tuple[int, int]]] = [[] for _ in range(PARTITIONS)]
    for key, seq in written:
        log[key % PARTITIONS].append((key, seq))
    reads = [(p, offset) for p in range(PARTITIONS) for offset in draw(reads_of(len(log[p])))]
    return acked, log, reads


@given(streams())
def test_checker_agrees_with_the_naive_model(stream) -> None:
    acked, log, reads = stream
    checker, model = WorkloadChecker(), NaiveModel()
    for key, seq in sorted(acked):
        checker.record_sent()
        checker.record_ack(f"k{key}", seq, key % PARTITIONS, offset=0, latency_ms=1.0)
    for partition, offset in reads:
        key, seq = log[partition][offset]
        checker.record_consumed(f"k{key}", seq, partition, offset)
        model.read(key, seq, partition, offset)

    report = _final(checker)
    assert report.acknowledged == len(acked)
    assert report.consumed == len(model.consumed)
    assert report.lost == len(acked - model.consumed)
    assert report.duplicated == model.duplicated
    assert report.out_of_order == model.out_of_order
    assert report.redelivered == model.redelivered
