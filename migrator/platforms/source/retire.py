"""Retiring source brokers safely: only once none holds a replica or leads a partition, and after the
controller has moved to a broker that stays; then the platform stops them."""

from __future__ import annotations

from collections.abc import Callable

from migrator.clients.connection import ClusterConfig
from migrator.clients.zk import ZooKeeper
from migrator.cluster.controller import move_controller_off
from migrator.cluster.holdings import refuse_while_holding
from migrator.platforms.source.base import BrokerPlatform


def retire_brokers(
    cluster: ClusterConfig,
    platform: BrokerPlatform,
    broker_ids: list[int],
    what: str,
    *,
    on_election: Callable[[int], None],
    sleep: Callable[[float], None],
    poll_interval: float,
) -> None:
    """Stop `broker_ids` through `platform`. `what` names the brokers in messages ("old", "new");
    `on_election` hears each controller moved off them."""
    with ZooKeeper.from_config(cluster) as zk:
        live = set(zk.broker_ids())
        still = [b for b in broker_ids if b in live]
        refuse_while_holding(
            zk,
            broker_ids,
            lambda held: f"The {what} broker(s) cannot be retired while they hold data ({held}). These partitions "
            "were created or moved there after the move was planned. Move them onto the brokers that stay (e.g. "
            "kafka-reassign-partitions.sh), then `migrator resume`; nothing was stopped.",
        )
        if still:
            move_controller_off(
                zk, set(still), live, on_election=on_election, sleep=sleep, poll_interval=poll_interval
            )
    platform.retire(broker_ids)
