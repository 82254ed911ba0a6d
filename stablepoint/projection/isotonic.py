"""Exact weighted L2 isotonic regression on an arbitrary partial order (a DAG).

Solves

    min_x  sum_v w_v (x_v - y_v)^2   subject to   x_a <= x_b  for every edge (a, b)

by recursive partitioning with minimum cuts (the threshold theorem of
Hochbaum and Queyranne; the "isotonic recursive partitioning" of Luss, Rosset
and Shahar).  A block B of cells starts with the value m = weighted mean of y
over B.  The largest upward-closed subset U of B with sum_{U} w (y - m) > 0 is a
maximum-weight closure, found by a maximum flow; if none exists, the whole
block is one level set at value m, otherwise the optimal fit is > m on U and
<= m on B \\ U and the two parts are solved independently.  Every value of the
result is the weighted mean of y over its level set, so the fit is exact up to
floating-point rounding (no iterative solver, no convergence tolerance).
The public functions fit ``y`` divided by its power-of-two scale (exact; see
:mod:`stablepoint.tolerances`) and scale the fit back, so no weighted sum can
overflow for any finite float64 input.

Zero weights are honest: a zero-weight cell does not enter any mean or the
loss, only the order constraints.  It takes the value of the level set the
minimal cuts leave it in; the minimal cuts keep it in the lower part unless an
order constraint pulls it up.  Its value is one of many optimal choices, and
the optimal loss (the branch-and-bound bound) does not depend on it.  When
every weight is zero any isotonic x is optimal; the result is then the
unweighted isotonic regression of y.

Kernels are compiled with numba when it is installed; without numba the same
code runs as plain Python (identical results, much slower).

References
----------
D. S. Hochbaum and M. Queyranne, "Minimum cut problems with convex separable
objectives", SIAM J. Discrete Math. 2003 (threshold theorem).
R. Luss, S. Rosset and M. Shahar, "Efficient regularized isotonic regression
with application to gene-gene interaction search", Ann. Appl. Stat. 2012.
"""

from __future__ import annotations

import numpy as np

from stablepoint.errors import SettingsError
from stablepoint.tolerances import from_unit, scale_exponent, to_unit

__all__ = ["isotonic_regression", "isotonic_product", "product_order_edges", "slice_index", "HAVE_NUMBA"]

try:  # numba is a speed-up, never a requirement for correctness
    from numba import njit as _njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only without numba
    HAVE_NUMBA = False

    def _njit(*args, **kwargs):
        if args and callable(args[0]):
            return args[0]
        return lambda f: f


#: Relative size (w.r.t. sum |w (y - m)| of a block) below which a residual
#: capacity counts as zero and a cut counts as no improvement.  A cut this
#: small changes the loss by a second-order amount (far below any loss tolerance).
CUT_RTOL = 1e-12
#: Deviations w (y - m) below this times sum w |y| are rounding noise of the mean m.
NOISE = 1e-14


@_njit(cache=True)
def _csr(n, esrc, edst):
    """Out- and in-adjacency (edge ids) of a graph given as edge arrays."""
    n_edges = esrc.shape[0]
    out_ptr = np.zeros(n + 1, np.int64)
    in_ptr = np.zeros(n + 1, np.int64)
    for e in range(n_edges):
        out_ptr[esrc[e] + 1] += 1
        in_ptr[edst[e] + 1] += 1
    for v in range(n):
        out_ptr[v + 1] += out_ptr[v]
        in_ptr[v + 1] += in_ptr[v]
    out_e = np.empty(n_edges, np.int64)
    in_e = np.empty(n_edges, np.int64)
    fill_o = out_ptr[:-1].copy()
    fill_i = in_ptr[:-1].copy()
    for e in range(n_edges):
        out_e[fill_o[esrc[e]]] = e
        fill_o[esrc[e]] += 1
        in_e[fill_i[edst[e]]] = e
        fill_i[edst[e]] += 1
    return out_ptr, out_e, in_ptr, in_e


@_njit(cache=True)
def _partition(y, ww, esrc, edst, out_ptr, out_e, in_ptr, in_e, x, label, perm, seg_lo, seg_hi, n_labels, rtol):
    """Recursive partitioning of the blocks ``perm[seg_lo[k]:seg_hi[k]]`` (each with its own label).

    Writes the fit into ``x`` and the level sets into ``label``; edges between
    different labels are ignored (those blocks are solved independently).
    Returns the next unused label.
    """
    n = y.shape[0]
    n_edges = esrc.shape[0]
    flow = np.zeros(n_edges)
    cs = np.zeros(n)
    ct = np.zeros(n)
    level = np.full(n, -1, np.int64)
    it = np.zeros(n, np.int64)
    queue = np.empty(n, np.int64)
    in_u = np.zeros(n, np.bool_)
    path_n = np.empty(n + 1, np.int64)
    path_e = np.empty(n + 1, np.int64)
    stack_lo = np.empty(n + seg_lo.shape[0] + 1, np.int64)
    stack_hi = np.empty(n + seg_lo.shape[0] + 1, np.int64)
    n_stack = 0
    for k in range(seg_lo.shape[0]):
        stack_lo[n_stack] = seg_lo[k]
        stack_hi[n_stack] = seg_hi[k]
        n_stack += 1

    while n_stack > 0:
        n_stack -= 1
        lo = stack_lo[n_stack]
        hi = stack_hi[n_stack]
        lab = label[perm[lo]]
        if hi - lo == 1:
            x[perm[lo]] = y[perm[lo]]
            continue
        # Shortcut: y already isotonic inside the block -> it is the block's fit.
        # (Not with zero weights: their y may lie outside the block's range.)
        ok = True
        for k in range(lo, hi):
            v = perm[k]
            if ww[v] == 0.0:
                ok = False
                break
            for j in range(out_ptr[v], out_ptr[v + 1]):
                e = out_e[j]
                b = edst[e]
                if label[b] == lab and y[v] > y[b]:
                    ok = False
                    break
            if not ok:
                break
        if ok:
            # Every cell is its own level set (labels must name level sets).
            x[perm[lo]] = y[perm[lo]]
            for k in range(lo + 1, hi):
                x[perm[k]] = y[perm[k]]
                label[perm[k]] = n_labels
                n_labels += 1
            continue
        sw = 0.0
        swy = 0.0
        swa = 0.0
        for k in range(lo, hi):
            v = perm[k]
            sw += ww[v]
            swy += ww[v] * y[v]
            swa += ww[v] * abs(y[v])
        if sw <= 0.0:  # cannot happen (every block holds weight); keep the order, not a NaN
            for k in range(lo, hi):
                x[perm[k]] = y[perm[k]]
                label[perm[k]] = n_labels
                n_labels += 1
            continue
        m = swy / sw
        gabs = 0.0
        for k in range(lo, hi):
            v = perm[k]
            g = ww[v] * (y[v] - m)
            gabs += abs(g)
            if g > 0.0:
                cs[v] = g
                ct[v] = 0.0
            else:
                cs[v] = 0.0
                ct[v] = -g
            for j in range(out_ptr[v], out_ptr[v + 1]):
                flow[out_e[j]] = 0.0
        # Relative to the block's deviations, with a floor at the rounding noise of its mean.
        eps = rtol * gabs + NOISE * swa
        # ---- Dinic max flow from the positive to the negative cells of the block.
        while True:
            head = 0
            tail = 0
            for k in range(lo, hi):
                v = perm[k]
                it[v] = 0
                if cs[v] > eps:
                    level[v] = 0
                    queue[tail] = v
                    tail += 1
                else:
                    level[v] = -1
            reached = False
            while head < tail:
                u = queue[head]
                head += 1
                if ct[u] > eps:
                    reached = True
                for j in range(out_ptr[u], out_ptr[u + 1]):
                    b = edst[out_e[j]]
                    if label[b] == lab and level[b] < 0:
                        level[b] = level[u] + 1
                        queue[tail] = b
                        tail += 1
                for j in range(in_ptr[u], in_ptr[u + 1]):
                    e = in_e[j]
                    a = esrc[e]
                    if label[a] == lab and level[a] < 0 and flow[e] > eps:
                        level[a] = level[u] + 1
                        queue[tail] = a
                        tail += 1
            if not reached:
                break
            for k in range(lo, hi):
                v0 = perm[k]
                if level[v0] != 0:
                    continue
                while cs[v0] > eps:
                    depth = 0
                    path_n[0] = v0
                    found = False
                    while True:
                        u = path_n[depth]
                        if ct[u] > eps:
                            found = True
                            break
                        advanced = False
                        n_out = out_ptr[u + 1] - out_ptr[u]
                        n_all = n_out + in_ptr[u + 1] - in_ptr[u]
                        while it[u] < n_all:
                            j = it[u]
                            if j < n_out:
                                e = out_e[out_ptr[u] + j]
                                nxt = edst[e]
                                good = label[nxt] == lab and level[nxt] == level[u] + 1
                                signed = e
                            else:
                                e = in_e[in_ptr[u] + j - n_out]
                                nxt = esrc[e]
                                good = label[nxt] == lab and level[nxt] == level[u] + 1 and flow[e] > eps
                                signed = -e - 1
                            if good:
                                path_e[depth] = signed
                                depth += 1
                                path_n[depth] = nxt
                                advanced = True
                                break
                            it[u] += 1
                        if not advanced:
                            level[u] = -2  # dead end for this phase
                            if depth == 0:
                                break
                            depth -= 1
                            it[path_n[depth]] += 1
                    if not found:
                        break
                    d = min(cs[v0], ct[path_n[depth]])
                    for q in range(depth):
                        s = path_e[q]
                        if s < 0 and flow[-s - 1] < d:
                            d = flow[-s - 1]
                    cs[v0] -= d
                    ct[path_n[depth]] -= d
                    for q in range(depth):
                        s = path_e[q]
                        if s >= 0:
                            flow[s] += d
                        else:
                            flow[-s - 1] -= d
        # ---- Minimal maximum closure U: cells reachable from the source in the residual graph.
        head = 0
        tail = 0
        for k in range(lo, hi):
            v = perm[k]
            in_u[v] = cs[v] > eps
            if in_u[v]:
                queue[tail] = v
                tail += 1
        while head < tail:
            u = queue[head]
            head += 1
            for j in range(out_ptr[u], out_ptr[u + 1]):
                b = edst[out_e[j]]
                if label[b] == lab and not in_u[b]:
                    in_u[b] = True
                    queue[tail] = b
                    tail += 1
            for j in range(in_ptr[u], in_ptr[u + 1]):
                e = in_e[j]
                a = esrc[e]
                if label[a] == lab and not in_u[a] and flow[e] > eps:
                    in_u[a] = True
                    queue[tail] = a
                    tail += 1
        gain = 0.0
        n_u = 0
        for k in range(lo, hi):
            v = perm[k]
            if in_u[v]:
                gain += ww[v] * (y[v] - m)
                n_u += 1
        if n_u == 0 or n_u == hi - lo or gain <= 10.0 * eps:
            for k in range(lo, hi):
                x[perm[k]] = m
            continue
        # Split the segment: lower part first, upper part (new label) after it.
        i_lo = lo
        i_hi = hi - 1
        while i_lo <= i_hi:
            if in_u[perm[i_lo]]:
                tmp = perm[i_lo]
                perm[i_lo] = perm[i_hi]
                perm[i_hi] = tmp
                i_hi -= 1
            else:
                i_lo += 1
        for k in range(i_lo, hi):
            label[perm[k]] = n_labels
            in_u[perm[k]] = False
        n_labels += 1
        stack_lo[n_stack] = lo
        stack_hi[n_stack] = i_lo
        n_stack += 1
        stack_lo[n_stack] = i_lo
        stack_hi[n_stack] = hi
        n_stack += 1
    return n_labels


@_njit(cache=True)
def _irp_kernel(y, w, esrc, edst, rtol):
    """Exact isotonic fit from scratch; returns (x, level-set labels)."""
    n = y.shape[0]
    out_ptr, out_e, in_ptr, in_e = _csr(n, esrc, edst)
    ww = w.copy()
    if not np.any(w > 0.0):
        ww[:] = 1.0
    x = np.empty(n)
    label = np.zeros(n, np.int64)
    perm = np.arange(n)
    seg_lo = np.zeros(1, np.int64)
    seg_hi = np.full(1, n, np.int64)
    _partition(y, ww, esrc, edst, out_ptr, out_e, in_ptr, in_e, x, label, perm, seg_lo, seg_hi, 1, rtol)
    return x, label


@_njit(cache=True)
def _find(parent, a):
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


@_njit(cache=True)
def _irp_warm(y, w, esrc, edst, rtol, x0, label0, max_rounds):
    """Exact isotonic fit warm-started from an optimal fit under FEWER edges.

    ``(x0, label0)`` must be an optimal fit (with its level sets) for a subset
    of ``edges``.  Each of its level sets still passes the optimality check
    (more edges only remove upper sets), so only violated edges need work:
    the level sets joined by violated edges are merged and re-partitioned,
    until no edge is violated.  The result then satisfies the optimality
    conditions (feasible, and no level set can be split), so it is exact.
    Returns (x, label, ok); ok is False when ``max_rounds`` did not suffice.
    """
    n = y.shape[0]
    out_ptr, out_e, in_ptr, in_e = _csr(n, esrc, edst)
    ww = w.copy()
    if not np.any(w > 0.0):
        ww[:] = 1.0
    x = x0.copy()
    label = np.empty(n, np.int64)
    # Compact labels to 0..n_blocks-1.
    remap = np.full(max(n, label0.max() + 1), -1, np.int64)
    n_blocks = 0
    for v in range(n):
        if remap[label0[v]] < 0:
            remap[label0[v]] = n_blocks
            n_blocks += 1
        label[v] = remap[label0[v]]
    scale = 0.0
    for v in range(n):
        scale = max(scale, abs(y[v]))
    vtol = 1e-14 * scale
    perm = np.empty(n, np.int64)
    for _ in range(max_rounds):
        parent = np.arange(n_blocks)
        violated = False
        for e in range(esrc.shape[0]):
            a = esrc[e]
            b = edst[e]
            if label[a] != label[b] and x[a] > x[b] + vtol:
                ra = _find(parent, label[a])
                rb = _find(parent, label[b])
                if ra != rb:
                    parent[ra] = rb
                violated = True
        if not violated:
            return x, label, True
        # Group the cells of every merged family of blocks into one segment.
        size = np.zeros(n_blocks, np.int64)
        n_members = np.zeros(n_blocks, np.int64)
        root = np.empty(n_blocks, np.int64)
        for b in range(n_blocks):
            root[b] = _find(parent, b)
            size[root[b]] += 1
        for v in range(n):
            label[v] = root[label[v]]
            n_members[label[v]] += 1
        start = np.zeros(n_blocks + 1, np.int64)
        for b in range(n_blocks):
            start[b + 1] = start[b] + n_members[b]
        fill = start[:-1].copy()
        for v in range(n):
            perm[fill[label[v]]] = v
            fill[label[v]] += 1
        n_seg = 0
        for b in range(n_blocks):
            if size[b] > 1:
                n_seg += 1
        seg_lo = np.empty(n_seg, np.int64)
        seg_hi = np.empty(n_seg, np.int64)
        k = 0
        for b in range(n_blocks):
            if size[b] > 1:
                seg_lo[k] = start[b]
                seg_hi[k] = start[b + 1]
                k += 1
        n_labels = _partition(y, ww, esrc, edst, out_ptr, out_e, in_ptr, in_e, x, label, perm, seg_lo,
                              seg_hi, n_blocks, rtol)
        # Compact again.
        remap = np.full(n_labels, -1, np.int64)
        n_blocks = 0
        for v in range(n):
            if remap[label[v]] < 0:
                remap[label[v]] = n_blocks
                n_blocks += 1
            label[v] = remap[label[v]]
    return x, label, False


@_njit(cache=True)
def _product_edges_kernel(rel, sl_idx, sizes, n_slice):
    """Covering edges of the product of per-agent orders ``rel[i, a, b]`` (a below b)."""
    n_agents = sizes.shape[0]
    count = 0
    for i in range(n_agents):
        s = sizes[i]
        for a in range(s):
            for b in range(s):
                if rel[i, a, b]:
                    covered = True
                    for c in range(s):
                        if rel[i, a, c] and rel[i, c, b]:
                            covered = False
                            break
                    if covered:
                        count += n_slice[i]
    src = np.empty(count, np.int64)
    dst = np.empty(count, np.int64)
    k = 0
    for i in range(n_agents):
        s = sizes[i]
        for a in range(s):
            for b in range(s):
                if rel[i, a, b]:
                    covered = True
                    for c in range(s):
                        if rel[i, a, c] and rel[i, c, b]:
                            covered = False
                            break
                    if covered:
                        for j in range(n_slice[i]):
                            src[k] = sl_idx[i, a, j]
                            dst[k] = sl_idx[i, b, j]
                            k += 1
    return src, dst


def slice_index(shape):
    """``(sl_idx, sizes, n_slice)``: ``sl_idx[i, a]`` lists the flat cells with ``u_i = a``.

    >>> sl, sizes, m = slice_index((2, 3))
    >>> sl[1, 1, :2].tolist(), sizes.tolist(), m.tolist()
    ([1, 4], [2, 3], [3, 2])
    """
    shape = tuple(int(s) for s in shape)
    n_cells = int(np.prod(shape))
    cells = np.arange(n_cells).reshape(shape)
    a_max = max(shape)
    m_max = max(n_cells // s for s in shape)
    sl_idx = np.zeros((len(shape), a_max, m_max), np.int64)
    for i, s in enumerate(shape):
        sl_idx[i, :s, : n_cells // s] = np.moveaxis(cells, i, 0).reshape(s, -1)
    sizes = np.array(shape, np.int64)
    return sl_idx, sizes, np.array([n_cells // s for s in shape], np.int64)


# Kernels of the branch and bound (stablepoint.projection.bnb).  They live here because
# numba's on-disk cache does not notice changes in callees defined in another file.


@_njit(cache=True)
def _with_relation(rel, i, a, b):
    """A copy of ``rel`` with "a below b" added for agent i, transitively closed."""
    out = rel.copy()
    s = rel.shape[1]
    for p in range(s):
        if p == a or rel[i, p, a]:
            for q in range(s):
                if q == b or rel[i, b, q]:
                    out[i, p, q] = True
    return out


@_njit(cache=True)
def _node_kernel(y, w, rel, sl_idx, sizes, n_slice, value_atol, rtol, x0, label0, warm, warm_rounds):
    """Exact fit of one node, its loss, and the pair to branch on with its two pooling costs.

    Returns ``(x, label, loss, branch, costs)``: ``branch = (i, a, b)`` with
    agent ``i = -1`` when the fit is closed (every pair comparable), and
    ``costs = (cost_ab, cost_ba)``.  The pooling cost of "a below b" is
    sum w_a w_b / (w_a + w_b) * d^2 over the cells where the fit has
    d = x_a - x_b > 0: the least weighted distance from the fit to any X that
    meets the new relation.  The fit is the projection of y onto a convex cone
    that contains the child's, so by the projection inequality the child's
    loss is at least ``loss + cost`` (a valid bound before fitting the child).

    The branching score of an incomparable pair is the product of its two
    costs: branch where both choices look expensive (the product needed fewer
    nodes than their minimum, sum or maximum on 4x4x4 and 5x5 payoffs: 6,730
    nodes on 40 4x4x4 payoffs against 7,840-10,542).
    """
    src, dst = _product_edges_kernel(rel, sl_idx, sizes, n_slice)
    ok = False
    if warm:
        x, label, ok = _irp_warm(y, w, src, dst, rtol, x0, label0, warm_rounds)
    if not ok:
        x, label = _irp_kernel(y, w, src, dst, rtol)
    loss = 0.0
    for v in range(y.shape[0]):
        loss += w[v] * (x[v] - y[v]) ** 2
    branch = np.full(3, -1, np.int64)
    costs = np.zeros(2)
    best = -1.0
    for i in range(sizes.shape[0]):
        s = sizes[i]
        for a in range(s):
            for b in range(a + 1, s):
                up = False
                down = False
                cost_ab = 0.0
                cost_ba = 0.0
                for j in range(n_slice[i]):
                    ca = sl_idx[i, a, j]
                    cb = sl_idx[i, b, j]
                    d = x[ca] - x[cb]
                    if d > value_atol:
                        up = True
                    elif d < -value_atol:
                        down = True
                    ws = w[ca] + w[cb]
                    if ws > 0.0:
                        h = w[ca] * w[cb] / ws
                        if d > 0.0:
                            cost_ab += d * d * h
                        else:
                            cost_ba += d * d * h
                # Strictly greater: the first pair wins ties (the order argsort used to give).
                if up and down and cost_ab * cost_ba > best:
                    best = cost_ab * cost_ba
                    branch[0] = i
                    branch[1] = a
                    branch[2] = b
                    costs[0] = cost_ab
                    costs[1] = cost_ba
    return x, label, loss, branch, costs


def _as_edges(edges, n: int):
    if edges is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    arr = np.asarray(edges, dtype=np.int64)
    if arr.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise SettingsError(f"edges must be an array of (a, b) pairs; got shape {arr.shape}")
    if arr.min() < 0 or arr.max() >= n:
        raise SettingsError(f"edges refer to nodes outside 0..{n - 1}")
    return np.ascontiguousarray(arr[:, 0]), np.ascontiguousarray(arr[:, 1])


def _check_yw(y, weights):
    y = np.asarray(y, dtype=np.float64)
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != y.shape:
        raise SettingsError(f"weights have shape {w.shape}, expected {y.shape}")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(w))):
        raise SettingsError("y and weights must be finite")
    if np.any(w < 0):
        raise SettingsError("weights must be non-negative")
    return y, w


def isotonic_regression(y, weights=None, edges=None, *, rtol: float = CUT_RTOL) -> np.ndarray:
    """Exact weighted L2 isotonic regression of ``y`` on a directed graph.

    Parameters
    ----------
    y : array_like, shape (n,)
        Targets.
    weights : array_like, shape (n,), optional
        Non-negative weights (default all ones).  Zero-weight nodes only carry
        order constraints (see the module notes for the value they get).
    edges : array_like of int, shape (E, 2), optional
        Pairs (a, b) meaning x[a] <= x[b].  Any directed graph is accepted; a
        cycle forces equal values.  Transitive edges are allowed but not needed.
    rtol : float
        Relative threshold below which a cut counts as no improvement.

    Returns
    -------
    x : ndarray, shape (n,)
        The optimal fit; each value is the weighted mean of ``y`` over its level set.

    Examples
    --------
    A chain 0 <= 1 <= 2 pools the violating pair (classic PAVA answer):

    >>> isotonic_regression([1.0, 3.0, 2.0], edges=[(0, 1), (1, 2)])
    array([1. , 2.5, 2.5])

    A partial order: 0 below both 1 and 2, which are unordered.

    >>> isotonic_regression([4.0, 1.0, 5.0], [1.0, 1.0, 2.0], edges=[(0, 1), (0, 2)])
    array([2.5, 2.5, 5. ])
    """
    y, w = _check_yw(y, weights)
    if y.ndim != 1:
        raise SettingsError(f"y must be one-dimensional; got shape {y.shape}")
    src, dst = _as_edges(edges, y.shape[0])
    if y.shape[0] == 0:
        return y.copy()
    k = scale_exponent(y)  # fit in unit range (exact scaling), so no sum or square can overflow
    return from_unit(_irp_kernel(to_unit(y, k), w, src, dst, float(rtol))[0], k)


def _cover(relation: np.ndarray) -> np.ndarray:
    """Covering pairs of a transitively closed strict order (a below b, nothing between)."""
    r = relation.astype(bool)
    between = (r.astype(np.int64) @ r.astype(np.int64)) > 0
    return r & ~between


def product_order_edges(shape, relations) -> np.ndarray:
    """Edges of the product of per-agent partial orders on the cells of ``shape``.

    Parameters
    ----------
    shape : tuple of int
        (A_1, ..., A_n).
    relations : sequence of bool arrays, shape (A_i, A_i)
        ``relations[i][a, b]`` means action a of agent i is below action b
        (slice X[i=a] <= slice X[i=b] pointwise).  Must be transitively closed.

    Returns
    -------
    edges : ndarray of int64, shape (E, 2)
        Flat (C-order) cell indices (a, b) with x[a] <= x[b], covering pairs only.

    Examples
    --------
    >>> r = np.array([[False, True], [False, False]])   # action 0 below action 1
    >>> product_order_edges((2, 2), [r, np.zeros((2, 2), bool)]).tolist()
    [[0, 2], [1, 3]]
    """
    shape = tuple(int(s) for s in shape)
    cells = np.arange(int(np.prod(shape))).reshape(shape)
    parts = []
    for i, rel in enumerate(relations):
        rel = np.asarray(rel, dtype=bool)
        if rel.shape != (shape[i], shape[i]):
            raise SettingsError(f"relation of agent {i} has shape {rel.shape}, expected {(shape[i],) * 2}")
        sl = np.moveaxis(cells, i, 0).reshape(shape[i], -1)
        a_idx, b_idx = np.nonzero(_cover(rel))
        if a_idx.size:
            parts.append(np.stack([sl[a_idx].ravel(), sl[b_idx].ravel()], axis=1))
    if not parts:
        return np.zeros((0, 2), np.int64)
    return np.concatenate(parts).astype(np.int64)


def isotonic_product(y, weights, relations, *, rtol: float = CUT_RTOL) -> np.ndarray:
    """Exact isotonic fit of a tensor under per-agent partial orders of its slices.

    Parameters
    ----------
    y, weights : ndarray, shape (A_1, ..., A_n)
    relations : sequence of n bool arrays, shape (A_i, A_i), transitively closed
        See :func:`product_order_edges`.

    Returns
    -------
    x : ndarray, shape (A_1, ..., A_n)

    Examples
    --------
    Ordering both agents' actions 0 < 1 on a 2x2 anti-diagonal payoff:

    >>> up = np.array([[False, True], [False, False]])
    >>> isotonic_product(np.array([[0.0, 1.0], [1.0, 0.0]]), np.ones((2, 2)), [up, up])
    array([[0.        , 0.66666667],
           [0.66666667, 0.66666667]])
    """
    y, w = _check_yw(y, weights)
    edges = product_order_edges(y.shape, relations)
    k = scale_exponent(y)  # as in isotonic_regression
    x = _irp_kernel(to_unit(y, k).ravel(), w.ravel(), edges[:, 0].copy(), edges[:, 1].copy(), float(rtol))[0]
    return from_unit(x, k).reshape(y.shape)
