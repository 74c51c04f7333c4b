"""The docs site's lineage graph: a layered left-to-right layout drawn as inline SVG.

Nodes sit in bands by layer (source files, raw, staging, marts, metrics, reports); within the
bands, :meth:`igraph.Graph.layout_sugiyama` orders them to reduce crossings and adds a dummy
vertex wherever an edge spans several layers. Every edge is routed through its dummies: in a
column of boxes it runs horizontally at its dummy's own row (which igraph keeps a row apart from
every box), and between columns it only crosses the empty gap. So no edge passes behind a box;
``tests/unit/duckbook/publish/test_lineage_graph.py`` checks this geometrically.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Iterable, Mapping, Sequence

#: The bands, left to right; a node of an unknown band goes between metrics and reports.
BANDS = ("source", "raw", "staging", "marts", "metrics", "report")
BOX_H, ROW, GAP_X, PAD, TOP, CHAR_W = 24, 34, 44, 10, 22, 6.8


@dataclasses.dataclass(frozen=True)
class Node:
    """A box: ``id`` (``schema.table``, ``file:name`` or ``report:name``), its label, band and link."""

    id: str
    label: str
    band: str
    href: str


@dataclasses.dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float


@dataclasses.dataclass
class Layout:
    """Where every box is and the polyline each edge follows (from the source box's right side
    to the target box's left side); ``bands`` are the band titles and their x."""

    boxes: dict[str, Box]
    routes: list[tuple[str, str, list[tuple[float, float]]]]
    bands: list[tuple[str, float]]
    width: float
    height: float


def _band_rank(band: str) -> float:
    return float(BANDS.index(band)) if band in BANDS else len(BANDS) - 1.5


def layers(nodes: Sequence[Node], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Each node's layer: the longest path from the sources, and never left of a band before its
    own (all of staging is left of all of marts; a mart read by a mart is one layer further).

    Examples
    --------
    >>> n = [Node("f", "f", "source", ""), Node("raw.a", "a", "raw", ""), Node("marts.b", "b", "marts", "")]
    >>> layers(n, [("f", "raw.a"), ("raw.a", "marts.b")])
    {'f': 0, 'raw.a': 1, 'marts.b': 2}
    """
    preds: dict[str, list[str]] = {n.id: [] for n in nodes}
    for a, b in edges:
        preds[b].append(a)
    out: dict[str, int] = {}
    floor = 0
    for rank in sorted({_band_rank(n.band) for n in nodes}):
        members = [n.id for n in nodes if _band_rank(n.band) == rank]
        pending = set(members)
        while pending:  # longest path within the band; predecessors of earlier bands are placed
            ready = [m for m in members if m in pending and all(p in out or p not in pending for p in preds[m])]
            if not ready:  # a cycle: place the rest at the band's floor
                ready = [m for m in members if m in pending]
            for m in ready:
                out[m] = max([floor, *(out[p] + 1 for p in preds[m] if p in out)])
                pending.discard(m)
        floor = max(out[m] for m in members) + 1
    return {n.id: out[n.id] for n in nodes}


def layout(nodes: Sequence[Node], edges: Iterable[tuple[str, str]]) -> Layout:
    """Place ``nodes`` and route ``edges`` (pairs of node ids; others are dropped).

    Examples
    --------
    >>> n = [Node("raw.a", "a", "raw", ""), Node("marts.b", "b", "marts", "")]
    >>> lay = layout(n, [("raw.a", "marts.b")])
    >>> lay.routes[0][2][0] == (lay.boxes["raw.a"].x + lay.boxes["raw.a"].w, lay.boxes["raw.a"].y + BOX_H / 2)
    True
    """
    import igraph

    ids = [n.id for n in nodes]
    index = {i: k for k, i in enumerate(ids)}
    pairs = sorted({(a, b) for a, b in edges if a in index and b in index and a != b})
    layer = layers(nodes, pairs)
    width = max([110.0, *(len(n.label) * CHAR_W + 14 for n in nodes)])
    graph = igraph.Graph(n=len(ids), edges=[(index[a], index[b]) for a, b in pairs], directed=True)
    result = graph.layout_sugiyama(layers=[layer[i] for i in ids], hgap=1, vgap=1, maxiter=200)
    low = min((c[0] for c in result.coords), default=0.0)  # positions from 0: the band titles stay clear
    coords = [(c[0] - low, c[1]) for c in result.coords]
    routing = [[(p[0] - low, p[1]) for p in bends] for bends in result.edge_routing]

    def x_of(lay: float) -> float:
        return PAD + lay * (width + GAP_X)

    def y_of(pos: float) -> float:
        return PAD + TOP + pos * ROW

    boxes = {i: Box(x_of(layer[i]), y_of(coords[index[i]][0]), width, BOX_H) for i in ids}
    routes = []
    for (a, b), bends in zip(pairs, routing, strict=True):
        line = [
            (coords[index[a]][0], float(layer[a])),
            *((p[0], p[1]) for p in bends),
            (coords[index[b]][0], float(layer[b])),
        ]
        points = [(boxes[a].x + width, boxes[a].y + BOX_H / 2)]
        for lay in range(layer[a] + 1, layer[b]):  # the dummy's row in every column the edge crosses
            y = y_of(_at_layer(line, lay)) + BOX_H / 2
            points += [(x_of(lay), y), (x_of(lay) + width, y)]
        points.append((boxes[b].x, boxes[b].y + BOX_H / 2))
        routes.append((a, b, points))
    first: dict[str, float] = {}
    for n in nodes:
        first.setdefault(n.band, x_of(min(layer[m.id] for m in nodes if m.band == n.band)))
    w = PAD * 2 + (max(layer.values(), default=0) + 1) * (width + GAP_X) - GAP_X
    h = max([PAD + TOP, *(b.y for b in boxes.values()), *(p[1] for _, _, pts in routes for p in pts)]) + BOX_H + PAD
    return Layout(boxes, routes, sorted(first.items(), key=lambda kv: kv[1]), w, h)


def _at_layer(line: Sequence[tuple[float, float]], lay: int) -> float:
    """The position of polyline ``line`` ((position, layer) points, layers increasing) at ``lay``."""
    for (x0, y0), (x1, y1) in zip(line, line[1:], strict=False):
        if y0 <= lay <= y1 and y1 > y0:
            return x0 + (x1 - x0) * (lay - y0) / (y1 - y0)
    return line[-1][0]


def svg(nodes: Sequence[Node], lay: Layout, *, css_class: str = "lineage-graph") -> str:
    """``lay`` as an SVG element: edges (with an arrowhead marker) under boxes, every label escaped.
    Nodes are ``<a class="node" data-id=... href=...>`` (``data-id`` first: ``id="x">`` finds only the panel),
    edges ``<path class="edge" data-from data-to>``
    (the page's script hides what a focus view leaves out)."""
    esc = html.escape
    by_id = {n.id: n for n in nodes}
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" width="{lay.width:.0f}" height="{lay.height:.0f}" '
        f'viewBox="0 0 {lay.width:.0f} {lay.height:.0f}" role="img" aria-label="table lineage">'
        '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" '
        'orient="auto"><path d="M0,0L8,4L0,8z" fill="#57606a"/></marker></defs>'
    )
    out = [head]
    out += [f'<text class="band" x="{x:.0f}" y="{PAD + 12}">{esc(band)}</text>' for band, x in lay.bands]
    for a, b, pts in lay.routes:
        d = f"M{pts[0][0]:.1f},{pts[0][1]:.1f}"
        for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
            if y0 == y1:
                d += f"L{x1:.1f},{y1:.1f}"
            else:  # between columns: a curve with horizontal ends, inside the gap (x stays in [x0, x1])
                m = (x0 + x1) / 2
                d += f"C{m:.1f},{y0:.1f} {m:.1f},{y1:.1f} {x1:.1f},{y1:.1f}"
        out.append(
            f'<path class="edge" data-from="{esc(a)}" data-to="{esc(b)}" d="{d}" fill="none" stroke="#8c959f" '
            'stroke-width="1.2" marker-end="url(#arrow)"/>'
        )
    for node_id, box in lay.boxes.items():
        n = by_id[node_id]
        out.append(
            f'<a class="node band-{esc(n.band)}" data-id="{esc(n.id)}" href="{esc(n.href)}"><title>{esc(n.id)}</title>'
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.0f}" height="{box.h}" rx="4"/>'
            f'<text x="{box.x + 7:.1f}" y="{box.y + 16:.1f}">{esc(n.label)}</text></a>'
        )
    return "".join(out) + "</svg>"


def neighbourhood(edges: Iterable[tuple[str, str]], node: str) -> set[str]:
    """``node`` with everything upstream and downstream of it (what its focus view shows).

    Examples
    --------
    >>> sorted(neighbourhood([("a", "b"), ("b", "c"), ("x", "c"), ("y", "a")], "b"))
    ['a', 'b', 'c', 'y']
    """
    pairs = list(edges)
    out = {node}
    for forward in (True, False):
        todo = [node]
        while todo:
            cur = todo.pop()
            for a, b in pairs:
                src, dst = (a, b) if forward else (b, a)
                if src == cur and dst not in out:
                    out.add(dst)
                    todo.append(dst)
    return out


def edges_of(upstream: Mapping[str, Iterable[str]]) -> list[tuple[str, str]]:
    """``(input, output)`` pairs from ``{output: inputs}``, sorted and unique."""
    return sorted({(u, t) for t, ups in upstream.items() for u in ups})
