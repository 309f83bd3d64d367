"""The stand-in operator's node-ID assignment follows Strimzi 0.45's NodeIdAssignor and NodeIdRange,
including the silent fallback to the lowest free IDs from 0 (which lands on the VM brokers' IDs), and
agrees with the config model's own parser of the range syntax."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from migrator.platforms.target.config import parse_node_id_range
from tests.k8s.strimzi_node_ids import (
    NEXT_NODE_IDS,
    REMOVE_NODE_IDS,
    InvalidNodeIdRange,
    assign_node_ids,
    node_id_range,
)


def pool(
    name: str,
    replicas: int,
    status_ids: list[int] | None = None,
    *,
    next_ids: str | None = None,
    remove_ids: str | None = None,
) -> dict[str, Any]:
    pairs = ((NEXT_NODE_IDS, next_ids), (REMOVE_NODE_IDS, remove_ids))
    annotations = {key: value for key, value in pairs if value is not None}
    obj: dict[str, Any] = {"metadata": {"name": name, "annotations": annotations}, "spec": {"replicas": replicas}}
    if status_ids is not None:
        obj["status"] = {"nodeIds": status_ids}
    return obj


def test_a_new_pool_takes_ids_from_its_range() -> None:
    [assignment] = assign_node_ids([pool("a", 3, next_ids="[1000-1999]")]).values()
    assert assignment.desired == assignment.added == (1000, 1001, 1002)
    assert assignment.warnings == ()


@pytest.mark.parametrize("annotation", ["1000-1999", "[1000-1999", "[a-b]", "[1000-]"])
def test_a_malformed_range_falls_back_to_the_lowest_free_ids_with_a_warning_only(annotation: str) -> None:
    [assignment] = assign_node_ids([pool("a", 3, next_ids=annotation)]).values()
    assert assignment.desired == (0, 1, 2)
    warning = f"Failed to use {NEXT_NODE_IDS} {annotation}. New node IDs will be assigned sequentially."
    assert assignment.warnings == (warning,)


def test_an_exhausted_range_continues_from_the_lowest_free_id() -> None:
    [assignment] = assign_node_ids([pool("a", 3, next_ids="[7]")]).values()
    assert assignment.desired == (0, 1, 7)
    assert assignment.warnings == ()


def test_ids_in_use_by_any_pool_are_skipped_and_kept() -> None:
    existing = pool("old", 3, [0, 1, 2])
    new = pool("new", 2, next_ids="[1, 2, 5]")
    assignments = assign_node_ids([existing, new])
    assert assignments["old"].desired == (0, 1, 2) and assignments["old"].added == ()
    assert assignments["new"].added == (3, 5)  # 5 from the range (1, 2 are taken), then the lowest free: 3


def test_scaling_up_keeps_the_assigned_ids_and_a_descending_range_counts_down() -> None:
    [assignment] = assign_node_ids([pool("a", 4, [1999, 1998], next_ids="[1999-1000]")]).values()
    assert assignment.current == (1998, 1999)
    assert assignment.added == (1996, 1997)


def test_scaling_down_removes_the_highest_or_the_remove_range() -> None:
    [highest] = assign_node_ids([pool("a", 2, [1000, 1001, 1002])]).values()
    assert highest.removed == (1002,) and highest.desired == (1000, 1001)
    [chosen] = assign_node_ids([pool("a", 2, [1000, 1001, 1002], remove_ids="[1000]")]).values()
    assert chosen.removed == (1000,) and chosen.desired == (1001, 1002)
    [malformed] = assign_node_ids([pool("a", 2, [1000, 1001, 1002], remove_ids="1000")]).values()
    assert malformed.removed == (1002,)
    assert REMOVE_NODE_IDS in malformed.warnings[0]


def test_two_pools_holding_one_id_is_an_error() -> None:
    with pytest.raises(ValueError, match="duplicate node ID 1"):
        assign_node_ids([pool("a", 2, [0, 1]), pool("b", 1, [1])])


@pytest.mark.parametrize("text", ["", "  ", "[]", " [ ] "])
def test_an_empty_range_is_not_malformed(text: str) -> None:
    assert list(node_id_range(text)) == []
    [assignment] = assign_node_ids([pool("a", 1, next_ids=text)]).values()
    assert assignment.desired == (0,) and assignment.warnings == ()


items = st.one_of(
    st.integers(0, 3000).map(str),
    st.tuples(st.integers(0, 3000), st.integers(0, 3000), st.sampled_from(["-", " - ", "- "])).map(
        lambda t: f"{t[0]}{t[2]}{t[1]}"
    ),
)


@given(st.lists(items, min_size=1, max_size=4), st.sampled_from([",", ", ", " ,"]))
def test_the_range_syntax_agrees_with_the_config_model(parts: list[str], separator: str) -> None:
    text = f"[{separator.join(parts)}]"
    assert tuple(dict.fromkeys(node_id_range(text))) == parse_node_id_range(text)


@pytest.mark.parametrize("text", ["1000-1999", "[1000-1999", "[1000-]", "[x]", "[1,,2]"])
def test_malformed_ranges_are_refused_by_both(text: str) -> None:
    with pytest.raises(InvalidNodeIdRange):
        node_id_range(text)
    with pytest.raises(ValueError):
        parse_node_id_range(text)
