"""The lineage graph's layout: bands left to right, edges routed around every box, arrowheads."""

from __future__ import annotations

import re

import pytest

from duckbook.publish import lineage_graph as lg
from duckbook.publish.lineage_graph import Box, Node
from tests.unit.duckbook.publish.test_docs import JAFFLE


def crosses(p: tuple[float, float], q: tuple[float, float], box: Box, margin: float = 1.0) -> bool:
    """Whether segment p-q meets the rectangle ``box`` shrunk by ``margin`` (Liang-Barsky clipping)."""
    x0, y0, x1, y1 = box.x + margin, box.y + margin, box.x + box.w - margin, box.y + box.h - margin
    t0, t1 = 0.0, 1.0
    dx, dy = q[0] - p[0], q[1] - p[1]
    for pk, qk in ((-dx, p[0] - x0), (dx, x1 - p[0]), (-dy, p[1] - y0), (dy, y1 - p[1])):
        if pk == 0:
            if qk < 0:
                return False
        else:
            t = qk / pk
            if pk < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
    return t0 <= t1


def assert_no_edge_behind_a_box(lay: lg.Layout) -> None:
    columns = sorted({(b.x, b.x + b.w) for b in lay.boxes.values()})
    for a, b, points in lay.routes:
        for p, q in zip(points, points[1:], strict=False):
            for node, box in lay.boxes.items():
                if node not in (a, b):
                    assert not crosses(p, q, box), f"edge {a} -> {b}: segment {p}-{q} crosses {node}"
            if p[1] != q[1]:  # drawn as a curve: it must stay in a gap between columns of boxes
                lo, hi = sorted((p[0], q[0]))
                assert not any(c0 < hi and lo < c1 for c0, c1 in columns), (a, b, p, q)
        assert points[0] == (lay.boxes[a].x + lay.boxes[a].w, lay.boxes[a].y + lg.BOX_H / 2)
        assert points[-1] == (lay.boxes[b].x, lay.boxes[b].y + lg.BOX_H / 2)


def jaffle_graph() -> tuple[list[Node], list[tuple[str, str]]]:
    nodes = {}
    for model, inputs in JAFFLE.edges.items():
        for q in (model, *inputs):
            schema = q.split(".")[0]
            nodes[q] = Node(q, q.split(".")[1], schema, f"#focus={q}")
    edges = [(i, m) for m, inputs in JAFFLE.edges.items() for i in inputs]
    for q in [n for n in nodes if n.startswith("raw.")]:
        nodes[f"file:{q}.csv"] = Node(f"file:{q}.csv", f"{q}.csv", "source", "")
        edges.append((f"file:{q}.csv", q))
    for report, reads in {"overview": ["marts.orders", "metrics.monthly"], "quality": ["marts.orders"]}.items():
        nodes[f"report:{report}"] = Node(f"report:{report}", report, "report", f"../{report}.html")
        edges += [(r, f"report:{report}") for r in reads]
    return list(nodes.values()), edges


def test_jaffle_graph_has_no_edge_behind_a_box_and_bands_run_left_to_right():
    nodes, edges = jaffle_graph()
    lay = lg.layout(nodes, edges)
    assert len(lay.routes) == len(set(edges)) > 30
    assert_no_edge_behind_a_box(lay)
    x = {band: min(lay.boxes[n.id].x for n in nodes if n.band == band) for band in lg.BANDS}
    assert x["source"] < x["raw"] < x["staging"] < x["marts"] < x["metrics"] < x["report"]
    for a, b in edges:  # every edge points right
        assert lay.boxes[a].x < lay.boxes[b].x, (a, b)
    assert [band for band, _ in lay.bands] == list(lg.BANDS)


def test_long_edges_are_routed_through_their_dummy_rows():
    """A fan of edges skipping up to five layers past a chain of boxes and a wide middle layer."""
    chain = [f"c{i}" for i in range(7)]
    nodes = [Node(c, c, "marts", "") for c in chain] + [Node(f"w{i}", f"w{i}", "marts", "") for i in range(5)]
    edges = list(zip(chain, chain[1:], strict=False))
    edges += [("c0", "c6"), ("c0", "c4"), ("c1", "c5"), ("c2", "c6")] + [("c2", f"w{i}") for i in range(5)]
    edges += [(f"w{i}", "c6") for i in range(5)] + [("c0", "c3")]
    lay = lg.layout(nodes, edges)
    assert_no_edge_behind_a_box(lay)
    (long_route,) = [pts for a, b, pts in lay.routes if (a, b) == ("c0", "c6")]
    assert len(long_route) == 2 + 2 * 5  # enters and leaves each of the five columns it crosses
    for p, q in zip(long_route[1:-1:2], long_route[2:-1:2], strict=True):
        assert p[1] == q[1] and q[0] - p[0] == lay.boxes["c0"].w  # straight through a column, at its dummy's row


@pytest.mark.parametrize("size", [1, 12])
def test_svg_has_arrowheads_and_escapes_labels(size):
    nodes = [Node("raw.<x>", "<x>&", "raw", "#focus=raw.<x>")] + [
        Node(f"marts.m{i}", f"m{i}", "marts", f"#m{i}") for i in range(size)
    ]
    edges = [("raw.<x>", f"marts.m{i}") for i in range(size)]
    text = lg.svg(nodes, lg.layout(nodes, edges))
    assert '<marker id="arrow"' in text and text.count('marker-end="url(#arrow)"') == size
    assert "&lt;x&gt;&amp;</text>" in text and 'data-id="raw.&lt;x&gt;"' in text and "<x>" not in text
    assert len(re.findall(r'<a class="node', text)) == size + 1


def test_layers_keep_bands_in_order_and_follow_the_longest_path():
    nodes = [Node("s.a", "a", "staging", ""), Node("m.b", "b", "marts", ""), Node("m.c", "c", "marts", "")]
    nodes.append(Node("x.d", "d", "other", ""))
    assert lg.layers(nodes, [("s.a", "m.b"), ("m.b", "m.c"), ("s.a", "m.c")]) == {
        "s.a": 0,
        "m.b": 1,
        "m.c": 2,
        "x.d": 3,
    }


def test_neighbourhood_is_upstream_and_downstream_only():
    _, edges = jaffle_graph()
    focus = lg.neighbourhood(edges, "marts.orders")
    assert {"raw.raw_orders", "staging.stg_orders", "marts.order_items", "marts.customers", "report:overview"} <= focus
    assert "marts.dim_location" not in focus and "raw.raw_stores" not in focus and "metrics.monthly" in focus


def test_the_crossing_check_itself():
    box = Box(40, 0, 10, 10)
    assert crosses((0, 5), (100, 5), box) and crosses((0, 0), (100, 10), box)
    assert not crosses((0, 20), (100, 20), box) and not crosses((0, 5), (39, 5), box)
