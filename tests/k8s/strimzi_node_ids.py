"""TEST CODE: Strimzi 0.45's node-ID assignment for KafkaNodePools, for the stand-in operator in
strimzi_controller.py. Follows NodeIdAssignor / NodeIdRange of strimzi-kafka-operator 0.45
(cluster-operator/.../model/nodepools/):

- IDs in use are the status.nodeIds of every pool of the cluster; a pool keeps the IDs it has.
- Scale-up (or a new pool) takes, per new node, the next ID of the pool's `strimzi.io/next-node-ids`
  range that is not in use; when the annotation is missing, malformed ("New node IDs will be assigned
  sequentially", a warning in the operator log and nothing else) or exhausted, the lowest unused ID
  counting from 0. Blank or "[]" is an empty range, not a malformed one.
- Scale-down removes, per node, the next in-use ID of `strimzi.io/remove-node-ids`, else the highest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NEXT_NODE_IDS = "strimzi.io/next-node-ids"
REMOVE_NODE_IDS = "strimzi.io/remove-node-ids"

_SINGLE = r"([0-9]+)"
_RANGE = r"([0-9]+\s*-\s*[0-9]+)"
_SINGLE_OR_RANGE = f"({_SINGLE}|{_RANGE})"
_VALID = re.compile(r"^\s*\[(\s*" + _SINGLE_OR_RANGE + r"\s*,)*\s*" + _SINGLE_OR_RANGE + r"\s*]\s*$")
_EMPTY = re.compile(r"^\s*\[\s*]\s*$")


class InvalidNodeIdRange(ValueError):
    pass


def node_id_range(text: str) -> Iterator[int]:
    """The IDs of a range annotation in Strimzi's order (a descending item counts down; repeats are
    kept, the assignor skips IDs in use). Raises InvalidNodeIdRange like NodeIdRange's constructor."""
    if not text.strip() or _EMPTY.match(text):
        return iter(())
    if not _VALID.match(text):
        raise InvalidNodeIdRange(f"Invalid Node ID range: {text}")
    items = re.sub(r"\s*]\s*$", "", re.sub(r"^\s*\[\s*", "", text)).split(",")

    def ids() -> Iterator[int]:
        for item in (i.strip() for i in items):
            start, _, end = (part.strip() for part in item.partition("-"))
            first, last = int(start), int(end or start)
            step = 1 if last >= first else -1
            yield from range(first, last + step, step)

    return ids()


@dataclass(frozen=True)
class PoolAssignment:
    pool: str
    current: tuple[int, ...]
    desired: tuple[int, ...]
    removed: tuple[int, ...]
    added: tuple[int, ...]
    #: The operator-log warnings of this assignment (a range that could not be used).
    warnings: tuple[str, ...] = ()


def assign_node_ids(pools: Sequence[Mapping[str, Any]]) -> dict[str, PoolAssignment]:
    """Node IDs for every KafkaNodePool (dicts as the API returns them) of one Kafka cluster, by pool
    name. Raises ValueError for a node ID that two pools both hold in their status."""
    in_use: set[int] = set()
    for pool in pools:
        for node_id in _status_ids(pool) or ():
            if node_id in in_use:
                raise ValueError(f"Found duplicate node ID {node_id} in node pool {pool['metadata']['name']}")
            in_use.add(node_id)

    result: dict[str, PoolAssignment] = {}
    for pool in pools:
        name = pool["metadata"]["name"]
        replicas = int(pool["spec"]["replicas"])
        status_ids = _status_ids(pool)
        current = sorted(status_ids or ())
        desired = set(current)
        added: list[int] = []
        removed: list[int] = []
        warnings: list[str] = []
        if status_ids is not None and replicas < len(current):
            remove_range = _annotation_range(
                pool, REMOVE_NODE_IDS, warnings, "Nodes will be scaled down from the highest node ID."
            )
            for _ in range(len(current) - replicas):
                node_id = next((i for i in remove_range if i in desired), None)
                if node_id is None:
                    node_id = max(desired)
                desired.remove(node_id)
                removed.append(node_id)
        elif replicas > len(current):
            next_range = _annotation_range(
                pool, NEXT_NODE_IDS, warnings, "New node IDs will be assigned sequentially."
            )
            for _ in range(replicas - len(current)):
                node_id = next((i for i in next_range if i not in in_use), None)
                if node_id is None:
                    node_id = _lowest_unused(in_use)
                in_use.add(node_id)
                desired.add(node_id)
                added.append(node_id)
        result[name] = PoolAssignment(
            pool=name,
            current=tuple(current),
            desired=tuple(sorted(desired)),
            removed=tuple(sorted(removed)),
            added=tuple(sorted(added)),
            warnings=tuple(warnings),
        )
    return result


def _status_ids(pool: Mapping[str, Any]) -> list[int] | None:
    ids = (pool.get("status") or {}).get("nodeIds")
    return None if ids is None else [int(i) for i in ids]


def _annotation_range(pool: Mapping[str, Any], key: str, warnings: list[str], fallback: str) -> Iterator[int]:
    text = ((pool.get("metadata") or {}).get("annotations") or {}).get(key)
    if text is None:
        return iter(())
    try:
        return node_id_range(text)
    except InvalidNodeIdRange:
        warnings.append(f"Failed to use {key} {text}. {fallback}")
        return iter(())


def _lowest_unused(in_use: set[int]) -> int:
    node_id = 0
    while node_id in in_use:
        node_id += 1
    return node_id
