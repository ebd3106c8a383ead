"""TreeSHAP contributions of a LightGBM model, for a whole batch, several times faster.

The same numbers as LightGBM's `predict(pred_contrib=True)` (path-dependent TreeSHAP, covers from
the training counts), computed another way ("Fast TreeSHAP v2", Yang 2021): a leaf's share of
each feature's contribution depends only on which of the features on its path the row agrees
with, so each leaf gets a table with one row per such pattern, built once per model, and a row's
contributions are a lookup per leaf instead of LightGBM's polynomial walk of every path
(O(depth^2) per leaf). Reasons need contributions for every explained invoice, which is where the
time of a batch with reasons went.

For one leaf with the distinct features D of its path (d of them), z_j the share of the training
rows that took the leaf's side at the splits on feature j, and H the features on which the row
takes the leaf's side, feature j gets

    v x ([j in H] - z_j) x prod_{k in D \\ H, k != j} z_k x sum_s w(s, d) e_{|H'| - s}(z_{H'})

with H' = H without j, w(s, d) = s! (d - s - 1)! / d! and e_m the elementary symmetric polynomial
of degree m: the subsets S of H' are the features "present" in Shapley's sum (Lundberg et al.
2020, eq. for f_S restricted to one leaf).
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import lightgbm as lgb
import numba
import numpy as np

NUMERIC, CATEGORICAL = 0, 1
MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2
MISSING_TYPES = {"None": MISSING_NONE, "Zero": MISSING_ZERO, "NaN": MISSING_NAN}
ZERO_THRESHOLD = 1e-35  # LightGBM's kZeroThreshold
PARALLEL_ROWS = 256  # below this, one thread: the hand-off costs more than it saves
BLOCK_ROWS = 512  # rows per pass over the leaves: the split decisions of a block stay cached
T = TypeVar("T")

# Numba's default threading layer runs one parallel call at a time: concurrent service requests
# would abort it. One batch at a time goes parallel (here or in `banded`); the others run on
# their own thread.
parallel_lock = threading.Lock()


def run_kernel(
    parallel: Callable[..., None], serial: Callable[..., None], rows: int, threads: int
) -> None:
    """`parallel(cores)` for a batch large enough when allowed (`threads` 0) and no other
    batch runs parallel, else `serial()`: the one dispatch of treeshap's and banded's kernels."""
    cores = numba.config.NUMBA_NUM_THREADS
    if threads != 1 and cores > 1 and rows >= PARALLEL_ROWS and parallel_lock.acquire(False):
        try:
            parallel(cores)
        finally:
            parallel_lock.release()
    else:
        serial()


def per_booster(
    build: Callable[[lgb.Booster, int | None], T],
) -> Callable[[lgb.Booster, int | None], T]:
    """`build(booster, num_iteration)`, remembered as long as the booster lives (the flat
    tables are not pickled with the model: rebuilt in about a second)."""
    built: weakref.WeakKeyDictionary[lgb.Booster, dict] = weakref.WeakKeyDictionary()
    building = threading.Lock()

    def cached(booster: lgb.Booster, num_iteration: int | None) -> T:
        with building:
            mine = built.setdefault(booster, {})
            if num_iteration not in mine:
                mine[num_iteration] = build(booster, num_iteration)
            return mine[num_iteration]

    return cached


@dataclass(frozen=True)
class Trees:
    """A booster's trees as flat arrays: splits, and per leaf its path and pattern table."""

    n_features: int
    bias: float  # the expected value: LightGBM's last contribution column
    node_feature: np.ndarray  # per split, over all trees
    node_threshold: np.ndarray
    node_kind: np.ndarray  # NUMERIC or CATEGORICAL
    node_default_left: np.ndarray
    node_missing: np.ndarray  # MISSING_TYPES
    node_categories: np.ndarray  # [start, end) into `categories` (categorical splits)
    categories: np.ndarray  # the categories that go left, split after split
    leaf_path: np.ndarray  # [start, end) into path_* per leaf
    path_node: np.ndarray  # the split (global index) ...
    path_left: np.ndarray  # ... whether the leaf is on its left side ...
    path_slot: np.ndarray  # ... and the slot of its feature among the leaf's distinct features
    leaf_slots: np.ndarray  # [start, end) into slot_feature per leaf
    slot_feature: np.ndarray
    leaf_table: np.ndarray  # start of the leaf's table (2^d patterns x d slots) in `table`
    table: np.ndarray


def parse(booster: lgb.Booster, num_iteration: int | None) -> tuple[int, float, dict, list, dict]:
    """The dumped trees: feature count, expected value, split arrays, leaves with their paths,
    and the shape of each tree (children and roots: a node >= 0 is a split, -1 - k leaf k)."""
    model = booster.dump_model(num_iteration=num_iteration)
    nodes: dict[str, list] = {k: [] for k in ("feature", "threshold", "kind", "left", "missing")}
    children: list[list[int]] = []
    roots: list[int] = []
    node_categories: list[tuple[int, int]] = []
    categories: list[float] = []
    leaves: list[tuple[float, list[tuple[int, bool, int]], list[float]]] = []
    bias = 0.0

    def walk(node: dict, path: list[tuple[int, bool, int, float]]) -> int:
        if "leaf_value" in node:
            count = float(node.get("leaf_count", 0))
            leaves.append((float(node["leaf_value"]), path, count))
            return -len(leaves)
        index = len(nodes["feature"])
        children.append([0, 0])
        nodes["feature"].append(int(node["split_feature"]))
        if node["decision_type"] == "==":
            values = [float(v) for v in str(node["threshold"]).split("||")]
            node_categories.append((len(categories), len(categories) + len(values)))
            categories.extend(values)
            nodes["kind"].append(CATEGORICAL)
            nodes["threshold"].append(np.nan)
        else:
            node_categories.append((0, 0))
            nodes["kind"].append(NUMERIC)
            nodes["threshold"].append(float(node["threshold"]))
        nodes["left"].append(bool(node["default_left"]))
        nodes["missing"].append(MISSING_TYPES[node.get("missing_type", "None")])
        total = float(node["internal_count"])
        for side, (child, is_left) in enumerate(
            ((node["left_child"], True), (node["right_child"], False))
        ):
            count = float(child.get("internal_count", child.get("leaf_count", 0)))
            share = count / total if total > 0 else 0.0
            children[index][side] = walk(
                child, [*path, (index, is_left, int(node["split_feature"]), share)]
            )
        return index

    for tree in model["tree_info"]:
        first_leaf = len(leaves)
        roots.append(walk(tree["tree_structure"], []))
        tree_leaves = leaves[first_leaf:]
        total = sum(count for _, _, count in tree_leaves)
        if len(tree_leaves) == 1 or total <= 0:
            bias += tree_leaves[0][0] if len(tree_leaves) == 1 else 0.0
        else:
            bias += sum(value * count / total for value, _, count in tree_leaves)
    n_features = int(model["max_feature_idx"]) + 1
    arrays = {
        "node_feature": np.asarray(nodes["feature"], dtype=np.int64),
        "node_threshold": np.asarray(nodes["threshold"], dtype=np.float64),
        "node_kind": np.asarray(nodes["kind"], dtype=np.int8),
        "node_default_left": np.asarray(nodes["left"], dtype=np.bool_),
        "node_missing": np.asarray(nodes["missing"], dtype=np.int8),
        "node_categories": np.asarray(node_categories, dtype=np.int64).reshape(-1, 2),
        "categories": np.asarray(categories, dtype=np.float64),
    }
    shape = {
        "children": np.asarray(children, dtype=np.int64).reshape(-1, 2),
        "roots": np.asarray(roots, dtype=np.int64),
        "leaf_value": np.asarray([value for value, _, _ in leaves], dtype=np.float64),
        "objective": str(model.get("objective", "")),
    }
    return n_features, bias, arrays, leaves, shape


def build(booster: lgb.Booster, num_iteration: int | None = None) -> Trees:
    """The booster's first `num_iteration` trees (all when None) with their pattern tables."""
    n_features, bias, arrays, leaves, _ = parse(booster, num_iteration)
    leaf_path, path_node, path_left, path_slot = [], [], [], []
    leaf_slots, slot_feature, slot_zero, leaf_value = [], [], [], []
    for value, path, _ in leaves:
        slots: dict[int, int] = {}
        zero: list[float] = []
        start = len(path_node)
        for node, is_left, feature, share in path:
            if feature not in slots:
                slots[feature] = len(slots)
                zero.append(1.0)
            zero[slots[feature]] *= share
            path_node.append(node)
            path_left.append(is_left)
            path_slot.append(slots[feature])
        leaf_path.append((start, len(path_node)))
        leaf_slots.append((len(slot_feature), len(slot_feature) + len(slots)))
        slot_feature.extend(slots)
        slot_zero.extend(zero)
        leaf_value.append(value)
    depth = np.diff(np.asarray(leaf_slots, dtype=np.int64).reshape(-1, 2), axis=1).ravel()
    sizes = (2**depth) * depth
    leaf_table = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    table = np.zeros(int(sizes.sum()), dtype=np.float64)
    slots_array = np.asarray(leaf_slots, dtype=np.int64).reshape(-1, 2)
    _fill_tables(
        np.asarray(leaf_value, dtype=np.float64),
        slots_array,
        np.asarray(slot_zero, dtype=np.float64),
        leaf_table,
        table,
        _shapley_weights(int(depth.max()) if len(depth) else 0),
    )
    return Trees(
        n_features=n_features,
        bias=bias,
        **arrays,
        leaf_path=np.asarray(leaf_path, dtype=np.int64).reshape(-1, 2),
        path_node=np.asarray(path_node, dtype=np.int64),
        path_left=np.asarray(path_left, dtype=np.bool_),
        path_slot=np.asarray(path_slot, dtype=np.int64),
        leaf_slots=slots_array,
        slot_feature=np.asarray(slot_feature, dtype=np.int64),
        leaf_table=leaf_table,
        table=table,
    )


def _shapley_weights(max_depth: int) -> np.ndarray:
    """w[d, s] = s! (d - s - 1)! / d!, the weight of a coalition of s among d features."""
    w = np.zeros((max_depth + 1, max_depth + 1))
    for d in range(1, max_depth + 1):
        for s in range(d):
            w[d, s] = math.factorial(s) * math.factorial(d - s - 1) / math.factorial(d)
    return w


@numba.njit(cache=True)
def _fill_tables(value, leaf_slots, slot_zero, leaf_table, table, weights):  # pragma: no cover
    elementary = np.zeros(64)
    for leaf in range(len(value)):
        start, end = leaf_slots[leaf, 0], leaf_slots[leaf, 1]
        d = end - start
        if d == 0:
            continue
        z = slot_zero[start:end]
        base = leaf_table[leaf]
        for pattern in range(1 << d):
            for j in range(d):
                hot_j = (pattern >> j) & 1
                # e_m over the hot features but j; the cold ones but j multiply in as z
                elementary[: d + 1] = 0.0
                elementary[0] = 1.0
                size = 0
                cold = 1.0
                for k in range(d):
                    if k == j:
                        continue
                    if (pattern >> k) & 1:
                        size += 1
                        for m in range(size, 0, -1):
                            elementary[m] += elementary[m - 1] * z[k]
                    else:
                        cold *= z[k]
                total = 0.0
                for s in range(size + 1):
                    total += weights[d, s] * elementary[size - s]
                table[base + pattern * d + j] = value[leaf] * (hot_j - z[j]) * cold * total


@numba.njit(cache=True, inline="always")
def goes_left(v, node, threshold, kind, default_left, missing, node_categories, cats):
    """LightGBM's decision at a split (`Tree::Decision`): True when the value goes left."""
    if kind[node] == 1:  # categorical: NaN and negative codes go right
        if np.isnan(v) or int(v) < 0:
            return False
        code = float(int(v))
        for c in range(node_categories[node, 0], node_categories[node, 1]):
            if cats[c] == code:
                return True
        return False
    if np.isnan(v) and missing[node] != 2:
        v = 0.0
    if (missing[node] == 1 and abs(v) <= ZERO_THRESHOLD) or (missing[node] == 2 and np.isnan(v)):
        return default_left[node]
    return v <= threshold[node]


@numba.njit(cache=True, inline="always")
def decisions(
    columns, left, feature, threshold, kind, default_left, missing, node_categories, cats
):  # pragma: no cover
    """left[node, r] = `goes_left` for every split and row, split by split.

    A numeric split's constants are read once, before its loop over the rows: the uint8 stores
    into `left` may alias the split arrays, so read inside the loop they are read again for each
    row and the loop does not vectorise (this took 85% of the contributions' time)."""
    n = columns.shape[1]
    for node in range(len(feature)):
        values = columns[feature[node]]
        decided = left[node]
        if kind[node] == CATEGORICAL:
            for r in range(n):
                decided[r] = goes_left(
                    values[r], node, threshold, kind, default_left, missing, node_categories, cats
                )
            continue
        at, missing_type = threshold[node], missing[node]
        by_default = np.uint8(default_left[node])
        if missing_type == MISSING_NAN:
            for r in range(n):
                v = values[r]
                decided[r] = by_default if np.isnan(v) else np.uint8(v <= at)
        elif missing_type == MISSING_ZERO:
            for r in range(n):
                v = values[r]
                v = 0.0 if np.isnan(v) else v
                decided[r] = by_default if abs(v) <= ZERO_THRESHOLD else np.uint8(v <= at)
        else:
            for r in range(n):
                v = values[r]
                decided[r] = np.uint8((0.0 if np.isnan(v) else v) <= at)


@numba.njit(cache=True)
def _block(columns, out, left, pattern, t):  # pragma: no cover
    """Rows of `columns` into `out`, both features x rows (contiguous along the rows).

    Leaf by leaf over all the rows, so that a leaf's table stays in the cache while it is read
    (row by row, every leaf's table would be fetched from memory again for each row). Indexed
    in two dimensions, not through row views: a view per path step and slot cost a fifth of the
    time."""
    (feature, threshold, kind, default_left, missing, node_categories, cats, leaf_path,
     path_node, path_left, path_slot, leaf_slots, slot_feature, leaf_table, table) = t  # fmt: skip
    n = columns.shape[1]
    decisions(columns, left, feature, threshold, kind, default_left, missing, node_categories, cats)
    for leaf in range(len(leaf_table)):
        start, end = leaf_slots[leaf, 0], leaf_slots[leaf, 1]
        d = end - start
        if d == 0:
            continue
        every = (np.int64(1) << d) - 1
        for r in range(n):
            pattern[r] = every
        for p in range(leaf_path[leaf, 0], leaf_path[leaf, 1]):
            node, side, slot = path_node[p], np.uint8(path_left[p]), path_slot[p]
            for r in range(n):  # branch-free: clear the slot's bit where the row goes the other way
                pattern[r] &= ~(np.int64(left[node, r] ^ side) << slot)
        base = leaf_table[leaf]
        for s in range(d):
            feature_of_slot = slot_feature[start + s]
            for r in range(n):
                out[feature_of_slot, r] += table[base + pattern[r] * d + s]


@numba.njit(cache=True)
def _serial(columns, out, t, block):  # pragma: no cover
    n = columns.shape[1]
    left = np.empty((len(t[0]), min(n, block)), dtype=np.uint8)
    pattern = np.empty(min(n, block), dtype=np.int64)
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        _block(columns[:, lo:hi], out[:, lo:hi], left, pattern, t)


@numba.njit(cache=True, parallel=True)
def _parallel(columns, out, t, chunks):  # pragma: no cover
    n = columns.shape[1]
    step = (n + chunks - 1) // chunks
    for c in numba.prange(chunks):
        lo, hi = c * step, min(n, (c + 1) * step)
        if lo < hi:
            left = np.empty((len(t[0]), hi - lo), dtype=np.uint8)
            pattern = np.empty(hi - lo, dtype=np.int64)
            _block(columns[:, lo:hi], out[:, lo:hi], left, pattern, t)


def contributions(trees: Trees, matrix: np.ndarray, threads: int = 0) -> np.ndarray:
    """rows x (features + bias), as LightGBM's pred_contrib. `threads`: 1 for one thread,
    0 for numba's (all cores) when the batch is large enough and no other batch runs."""
    columns = np.ascontiguousarray(np.asarray(matrix, dtype=np.float64).T)
    out = np.zeros((trees.n_features + 1, len(columns[0]) if len(columns) else 0))
    out[-1] = trees.bias
    if not out.shape[1]:
        return out.T
    t = (
        trees.node_feature, trees.node_threshold, trees.node_kind, trees.node_default_left,
        trees.node_missing, trees.node_categories, trees.categories, trees.leaf_path,
        trees.path_node, trees.path_left, trees.path_slot, trees.leaf_slots, trees.slot_feature,
        trees.leaf_table, trees.table,
    )  # fmt: skip
    run_kernel(
        lambda cores: _parallel(columns, out, t, cores),
        lambda: _serial(columns, out, t, BLOCK_ROWS),
        len(matrix),
        threads,
    )
    return out.T


trees_of = per_booster(build)  # the booster's tables, built on first use
