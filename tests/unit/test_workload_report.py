"""The workload report's shape (what the CLI and the demo print) and the message codec."""

from __future__ import annotations

import socket

import pytest

from migrator.errors import BadInput
from migrator.sandbox.workload import Workload, decode_value, encode_value, key_name
from migrator.sandbox.workload_checker import WorkloadChecker

REQUIRED_KEYS = {
    "produced",
    "acknowledged",
    "consumed",
    "lost",
    "duplicated",
    "out_of_order",
    "produce_p50_ms",
    "produce_p99_ms",
    "produce_max_ms",
    "failed",
    "duration_s",
}


def test_to_dict_carries_every_promised_key() -> None:
    report = WorkloadChecker().report(final=True, duration_s=2.5)
    as_dict = report.to_dict()
    assert REQUIRED_KEYS <= as_dict.keys()
    assert as_dict["lost"] == 0
    assert as_dict["duration_s"] == 2.5


def test_progress_line_says_unconsumed_while_running_and_lost_at_the_end() -> None:
    checker = WorkloadChecker()
    checker.record_sent()
    checker.record_ack("k", 0, 0, 0, latency_ms=12.0)
    live = checker.report(final=False, duration_s=3.0).progress_line()
    final = checker.report(final=True, duration_s=3.0).progress_line()
    assert "unconsumed=1" in live and "lost" not in live
    assert "lost=1" in final
    assert "p99=12.0ms" in final


@pytest.mark.parametrize("seq", [0, 1, 2**40])
def test_value_round_trips(seq: int) -> None:
    assert decode_value(encode_value("run1", seq)) == ("run1", seq)


@pytest.mark.parametrize(
    "raw",
    [None, b"", b"not json", b"\xff\xfe", b"[]", b'{"seq": 1}', b'{"run": "r", "seq": -1}',
     b'{"run": "r", "seq": "1"}', b'{"run": "r", "seq": true}', b'{"run": 5, "seq": 1}'],
)
def test_anything_else_on_the_topic_decodes_to_none(raw: bytes | None) -> None:
    assert decode_value(raw) is None


def test_key_names_sort_in_key_order() -> None:
    assert [key_name(i) for i in (0, 9, 10)] == sorted(key_name(i) for i in (0, 9, 10))


@pytest.mark.parametrize("kwargs", [{"rate_per_s": 0}, {"keys": 0}, {"partitions": 0}])
def test_nonsense_settings_are_bad_input(kwargs: dict[str, int]) -> None:
    with pytest.raises(BadInput):
        Workload("127.0.0.1:9", **kwargs)


def test_an_unreachable_bootstrap_is_bad_input() -> None:
    with socket.socket() as sock:  # a port nobody listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        address = "127.0.0.1:%d" % sock.getsockname()[1]
        with pytest.raises(BadInput, match="Could not create or find the workload topic"):
            Workload(address, topic="t").ensure_topic(timeout_s=2)
