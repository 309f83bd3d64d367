"""The workload against a real cluster: a healthy run proves zero loss, and real loss is caught."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import OFFSET_END, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from migrator.sandbox.workload import Workload, WorkloadReport, encode_value, key_name
from tests.waiting import wait_for

pytestmark = pytest.mark.cluster


def _topic() -> str:
    return f"workload-{uuid.uuid4().hex[:8]}"




def _assert_nothing_wrong(report: WorkloadReport) -> None:
    assert report.produced == report.acknowledged > 0
    assert report.failed == 0
    assert report.consumed == report.acknowledged
    assert (report.lost, report.duplicated, report.out_of_order) == (0, 0, 0)
    assert report.zero_loss


def test_healthy_cluster_loses_nothing(sandbox) -> None:
    resolved: list[str] = []

    def bootstrap() -> str:
        resolved.append(sandbox.bootstrap_servers)
        return sandbox.bootstrap_servers

    workload = Workload(bootstrap, topic=_topic(), rate_per_s=200, keys=8)
    with workload:
        wait_for(lambda: workload.snapshot().consumed >= 400, "the consumer to read 400 messages")
        assert workload.snapshot().lost is None  # loss is only judged after the drain

    report = workload.report
    _assert_nothing_wrong(report)
    assert report.produce_p50_ms is not None and report.produce_p99_ms >= report.produce_p50_ms
    assert len(resolved) >= 3  # admin, producer and consumer each asked for the bootstrap


def test_acknowledged_data_deleted_before_it_was_consumed_is_reported_lost(sandbox) -> None:
    workload = Workload(sandbox.bootstrap_servers, topic=_topic(), rate_per_s=200, keys=8)
    workload.start(consume=False)
    try:
        wait_for(lambda: workload.snapshot().acknowledged >= 200, "200 acknowledged messages")
        # Everything below each partition's high watermark is acknowledged (acks=all) and unread.
        admin = AdminClient({"bootstrap.servers": sandbox.bootstrap_servers})
        futures = admin.delete_records(
            [TopicPartition(workload.topic, p, OFFSET_END) for p in range(workload.partitions)]
        )
        deleted = sum(future.result().low_watermark for future in futures.values())
        workload.start_consuming()
        wait_for(lambda: workload.snapshot().consumed >= 100, "the consumer to read what came after")
    finally:
        report = workload.stop(drain_timeout_s=20)

    assert deleted >= 200
    assert report.lost == deleted
    assert report.consumed == report.acknowledged - deleted
    assert (report.duplicated, report.out_of_order) == (0, 0)
    assert not report.zero_loss


def test_a_message_written_twice_is_reported_duplicated(sandbox) -> None:
    workload = Workload(sandbox.bootstrap_servers, topic=_topic(), rate_per_s=200, keys=4)
    with workload:
        wait_for(lambda: workload.snapshot().consumed >= 50, "the consumer to read 50 messages")
        # A second writer appends a copy of an already acknowledged message: the log now holds it twice.
        copier = Producer({"bootstrap.servers": sandbox.bootstrap_servers, "acks": "all"})
        copier.produce(workload.topic, key=key_name(0).encode(), value=encode_value(workload.run_id, 0))
        assert copier.flush(10) == 0

    report = workload.report
    assert report.duplicated == 1
    assert (report.lost, report.out_of_order) == (0, 0)
    assert report.consumed == report.acknowledged


def test_a_broker_restart_loses_nothing_and_raises_no_false_alarm(sandbox_factory) -> None:
    # What a migration does to every broker in turn: controlled shutdown, leaders move, it comes back.
    cluster = sandbox_factory()  # 3 brokers, racks a, b, c
    workload = Workload(cluster.bootstrap_servers, topic=_topic(), rate_per_s=200, keys=8)
    with workload:
        wait_for(lambda: workload.snapshot().consumed >= 200, "the consumer to read 200 messages")
        cluster.stop_broker(0)
        consumed = workload.snapshot().consumed
        wait_for(lambda: workload.snapshot().consumed >= consumed + 200, "progress with a broker down")
        cluster.start_broker(0)

    _assert_nothing_wrong(workload.report)
