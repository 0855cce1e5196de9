"""On random graphs the checks never crash, and reachability/trap findings match brute force."""

from __future__ import annotations

from collections import deque
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from flowagents.graph import CODES, GraphSpec, check_graph

SIZE = 8
GUARDS: list[dict[str, Any] | None] = [None, {"contains": "x"}, {"counter": "n0", "reached": 1}]


def bfs(adjacency: dict[int, set[int]], sources: set[int]) -> set[int]:
    seen, queue = set(sources), deque(sources)
    while queue:
        for nxt in adjacency[queue.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, SIZE))
    pairs = draw(st.lists(st.tuples(st.integers(0, count - 1), st.integers(0, count - 1)),
                          max_size=3 * count))
    return {
        "mode": draw(st.sampled_from(["static", "dynamic"])),
        "start": f"n{draw(st.integers(0, count - 1))}",
        "agents": [
            {
                "name": f"n{i}",
                "allow_repeat": draw(st.booleans()),
                "join": draw(st.sampled_from([None, "all"])),
                "max_visits": draw(st.sampled_from([None, 2])),
            }
            for i in range(count)
        ],
        "edges": [
            {
                "from": f"n{a}",
                "to": f"n{b}",
                "parallel": draw(st.booleans()),
                "max_traversals": draw(st.sampled_from([None, 1])),
                "guard": draw(st.sampled_from(GUARDS)),
            }
            for a, b in pairs
        ],
        "termination": {
            "terminal": [f"n{i}" for i in draw(st.sets(st.integers(0, count - 1), max_size=2))],
            "keyword": draw(st.sampled_from([None, "TERMINATE"])),
        },
        "selector": {"fallback": draw(st.sampled_from(["error", "first"]))},
    }


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_reachability_and_traps_match_brute_force(data: dict[str, Any]) -> None:
    findings = check_graph(GraphSpec.model_validate(data))
    assert all(f.code in CODES and f.location is None for f in findings)
    count = len(data["agents"])
    forward: dict[int, set[int]] = {i: set() for i in range(count)}
    backward: dict[int, set[int]] = {i: set() for i in range(count)}
    for edge in data["edges"]:
        a, b = int(edge["from"][1:]), int(edge["to"][1:])
        forward[a].add(b)
        backward[b].add(a)
    degree = {i: len(forward[i]) + len(backward[i]) for i in range(count)}
    reached = bfs(forward, {int(data["start"][1:])})
    expected_unreachable = {f"n{i}" for i in range(count) if i not in reached and degree[i]}
    assert {f.node for f in findings if f.code == "FG004"} == expected_unreachable

    ends = {int(n[1:]) for n in data["termination"]["terminal"]}
    ends |= {i for i in range(count) if not forward[i]}
    traps = {f.node for f in findings if f.code == "FG005"}
    if ends:
        can_end = bfs(backward, ends)
        assert traps == {f"n{i}" for i in range(count) if i not in can_end}
        assert not [f for f in findings if f.code == "FG017"]
    else:
        assert traps == set()
        assert [f.code for f in findings].count("FG017") == 1


@settings(max_examples=100, deadline=None)
@given(graphs(), st.data())
def test_checks_never_crash_on_dangling_names_and_subgroups(
    data: dict[str, Any], more: st.DataObject
) -> None:
    data = dict(data)
    data["edges"] = [*data["edges"], {"from": "n0", "to": more.draw(st.sampled_from(["n0", "zz"]))}]
    data["subgroups"] = [{"name": more.draw(st.sampled_from(["n0", "sub"])), "graph": dict(data)}]
    data["start"] = more.draw(st.sampled_from([None, "n0", "missing"]))
    findings = check_graph(GraphSpec.model_validate(data))
    assert all(f.code in CODES for f in findings)
