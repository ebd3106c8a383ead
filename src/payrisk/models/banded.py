"""A LightGBM model's predictions for every band of an invoice, in one walk of each tree.

The payment-date hazard is asked the same question for each band of days past due an invoice can
still be paid in (about 34): rows that share the invoice's features and differ only in the few
band features. LightGBM would walk every tree once per band row. Here each tree is walked once
per invoice with the set of its bands as a bit mask: a split on an invoice feature sends the whole
set one way, a split on a band feature divides it, and a leaf adds its value to the bands that
reach it. Most splits are on invoice features, so most of the 34 walks were the same walk.

Leaves mostly reach a run of consecutive bands (splits on a band's start or distance cut the
bands in two), so a leaf's value is added at the two ends of its run and summed along the bands
once per invoice. The numbers are LightGBM's own to rounding (1e-12): the same splits
(`treeshap.decisions` and `goes_left`), the same leaves, the same sigmoid (tests compare with
`Booster.predict` on the band rows). About 6x less CPU than LightGBM on the rows for the demo's
hazard model.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numba
import numpy as np

from payrisk.models.treeshap import decisions, goes_left, parse, per_booster, run_kernel

MAX_BANDS = 63  # bands fit in one int64 mask


@dataclass(frozen=True)
class Forest:
    """A binary LightGBM model's trees as flat arrays, for walking."""

    n_features: int
    sigmoid: float  # LightGBM's binary objective: P = 1 / (1 + exp(-sigmoid x raw score))
    node_feature: np.ndarray
    node_threshold: np.ndarray
    node_kind: np.ndarray
    node_default_left: np.ndarray
    node_missing: np.ndarray
    node_categories: np.ndarray
    categories: np.ndarray
    children: np.ndarray  # per split: left, right (>= 0 a split, -1 - k leaf k)
    roots: np.ndarray  # per tree, in LightGBM's order
    leaf_value: np.ndarray


def build(booster: lgb.Booster, num_iteration: int | None = None) -> Forest:
    """The first `num_iteration` trees (all when None) of a binary classifier."""
    n_features, _, arrays, _, shape = parse(booster, num_iteration)
    objective = shape["objective"].split()
    if not objective or objective[0] != "binary":
        raise ValueError(f"banded predictions need a binary objective, not {shape['objective']!r}")
    sigmoid = next((float(p.split(":")[1]) for p in objective if p.startswith("sigmoid:")), 1.0)
    return Forest(
        n_features=n_features,
        sigmoid=sigmoid,
        **arrays,
        children=shape["children"],
        roots=shape["roots"],
        leaf_value=shape["leaf_value"],
    )


# Bit index of a power of two (de Bruijn): visiting only a mask's set bits, not every band.
_DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
_BIT_OF = np.zeros(64, dtype=np.int64)
for _b in range(64):
    _BIT_OF[(((1 << _b) * int(_DEBRUIJN)) % 2**64) >> 58] = _b


@numba.njit(cache=True, inline="always")
def _lowest_bit(mask, bit_of):
    return bit_of[(np.uint64(mask & -mask) * _DEBRUIJN) >> np.uint64(58)]


BLOCK_ROWS = 256  # rows whose invoice-feature decisions are taken together
DECIDED_FROM_ROWS = 32  # fewer rows test their splits in the walk (deciding every split costs
# more than the few a walk visits: 0.6 against 0.06 ms for one invoice)


@numba.njit(cache=True)
def _walk_rows(x, band_values, reachable, out, lo, hi, f, bit_of):  # pragma: no cover
    """Raw scores of rows [lo, hi) over their bands into `out` (rows x bands).

    Block by block of rows, every split on an invoice feature is decided first for all the
    rows at once (`treeshap.decisions`, vectorised), so that the walks read a byte per split
    instead of testing the value (a third less time than testing inside the walk); under
    DECIDED_FROM_ROWS rows, the walks test the few splits they visit."""
    (feature, threshold, kind, default_left, missing, node_categories, cats) = f[:7]
    n_invoice = x.shape[1]
    n_band_features, _, bands = band_values.shape
    stack_node = np.empty(len(feature) + 1, dtype=np.int64)
    stack_mask = np.empty(len(feature) + 1, dtype=np.int64)
    ordered = np.empty((n_band_features, bands), dtype=np.float64)
    prefix = np.empty((n_band_features, bands + 1), dtype=np.int64)
    edge = np.zeros(bands + 1)  # a leaf's value where its run of bands starts, minus where it ends
    scratch = (stack_node, stack_mask, ordered, prefix, edge)
    if hi - lo < DECIDED_FROM_ROWS:  # no decisions to hold: one unread row for the signature
        none = np.empty((1, len(feature)), dtype=np.uint8)
        _walk_block(x, band_values, reachable, out, lo, hi, f, bit_of, none, scratch, False)
        return
    columns = np.zeros((max(n_invoice, 1), BLOCK_ROWS))  # a row to read even without any
    by_split = np.empty((len(feature), BLOCK_ROWS), dtype=np.uint8)
    by_row = np.empty((BLOCK_ROWS, len(feature)), dtype=np.uint8)
    # Splits on a band feature are decided in the walk; here they read any column, unused.
    invoice_feature = np.where(feature < n_invoice, feature, 0)
    for start in range(lo, hi, BLOCK_ROWS):
        n = min(hi, start + BLOCK_ROWS) - start
        for j in range(n_invoice):
            for r in range(n):
                columns[j, r] = x[start + r, j]
        decisions(
            columns[:, :n], by_split[:, :n], invoice_feature, threshold, kind, default_left,
            missing, node_categories, cats,
        )  # fmt: skip
        by_row[:n] = by_split[:, :n].T
        _walk_block(
            x, band_values, reachable, out, start, start + n, f, bit_of, by_row, scratch, True
        )


@numba.njit(cache=True)
def _walk_block(
    x, band_values, reachable, out, lo, hi, f, bit_of, by_row, scratch, decided
):  # pragma: no cover
    """Rows [lo, hi); with `decided`, their invoice-feature decisions are `by_row` (from row
    `lo`), else each split visited is tested.

    A numeric split on a band feature sends left the bands whose value is at most its
    threshold: with the row's bands sorted by that feature's value, a prefix of them, whose
    mask is looked up after a binary search instead of testing each band."""
    (feature, threshold, kind, default_left, missing, node_categories, cats, children, roots,
     leaf_value) = f  # fmt: skip
    stack_node, stack_mask, ordered, prefix, edge = scratch
    n_invoice = x.shape[1]
    n_band_features, _, bands = band_values.shape
    for r in range(lo, hi):
        goes_left_at = by_row[r - lo if decided else 0]
        full = np.int64(0)
        for b in range(bands):
            if reachable[r, b]:
                full |= np.int64(1) << b
        if full == 0:
            continue
        for g in range(n_band_features):
            order = np.argsort(band_values[g, r], kind="mergesort")
            prefix[g, 0] = 0
            for c in range(bands):
                ordered[g, c] = band_values[g, r, order[c]]
                prefix[g, c + 1] = prefix[g, c] | (np.int64(1) << order[c])
        for tree in range(len(roots)):
            stack_node[0] = roots[tree]
            stack_mask[0] = full
            top = 1
            while top > 0:
                top -= 1
                node, mask = stack_node[top], stack_mask[top]
                while node >= 0:
                    j = feature[node]
                    if j < n_invoice:
                        if decided:
                            node = children[node, 1 - goes_left_at[node]]
                        elif goes_left(
                            x[r, j], node, threshold, kind, default_left, missing,
                            node_categories, cats,
                        ):  # fmt: skip
                            node = children[node, 0]
                        else:
                            node = children[node, 1]
                        continue
                    g = j - n_invoice
                    if kind[node] == 0 and missing[node] != 1:  # numeric, no "zero is missing"
                        count = np.searchsorted(ordered[g], threshold[node], side="right")
                        left = mask & prefix[g, count]
                    else:
                        left = np.int64(0)
                        for b in range(bands):
                            if (mask >> b) & 1 and goes_left(
                                band_values[g, r, b], node, threshold, kind, default_left,
                                missing, node_categories, cats,
                            ):  # fmt: skip
                                left |= np.int64(1) << b
                    right = mask & ~left
                    if left != 0 and right != 0:
                        stack_node[top] = children[node, 1]
                        stack_mask[top] = right
                        top += 1
                        node, mask = children[node, 0], left
                    elif left != 0:
                        node = children[node, 0]
                    else:
                        node = children[node, 1]
                value = leaf_value[-1 - node]
                first = _lowest_bit(mask, bit_of)
                run = mask >> first
                if (run & (run + 1)) == 0:  # bands first..last in a row: two ends of a run
                    edge[first] += value
                    edge[first + _lowest_bit(run + 1, bit_of)] -= value
                else:
                    while mask != 0:
                        b = _lowest_bit(mask, bit_of)
                        edge[b] += value
                        edge[b + 1] -= value
                        mask &= mask - 1
        total = 0.0
        for b in range(bands):
            total += edge[b]
            out[r, b] = total
            edge[b] = 0.0
        edge[bands] = 0.0


@numba.njit(cache=True)
def _serial(x, band_values, reachable, out, f, bit_of):  # pragma: no cover
    _walk_rows(x, band_values, reachable, out, 0, x.shape[0], f, bit_of)


@numba.njit(cache=True, parallel=True)
def _parallel(x, band_values, reachable, out, f, bit_of, chunks):  # pragma: no cover
    n = x.shape[0]
    step = (n + chunks - 1) // chunks
    for c in numba.prange(chunks):
        _walk_rows(x, band_values, reachable, out, c * step, min(n, (c + 1) * step), f, bit_of)


def predict(
    forest: Forest,
    matrix: np.ndarray,
    band_values: np.ndarray,
    reachable: np.ndarray,
    threads: int = 0,
) -> np.ndarray:
    """P(event) for each row and reachable band (0 elsewhere), rows x bands.

    `matrix`: the invoice features (rows x columns), the model's first columns; `band_values`:
    its last columns, one rows x bands array each (k x rows x bands); `threads`: 1 for one
    thread, 0 for numba's when the batch is large enough and no other batch runs.
    """
    x = np.ascontiguousarray(matrix, dtype=np.float64)
    values = np.ascontiguousarray(band_values, dtype=np.float64)
    reachable = np.ascontiguousarray(reachable, dtype=np.bool_)
    rows, bands = reachable.shape
    if x.shape[1] + values.shape[0] != forest.n_features:
        raise ValueError(
            f"the model has {forest.n_features} features, given {x.shape[1]} + {values.shape[0]}"
        )
    if bands > MAX_BANDS:
        raise ValueError(f"at most {MAX_BANDS} bands, given {bands}")
    raw = np.zeros((rows, bands))
    f = (
        forest.node_feature, forest.node_threshold, forest.node_kind, forest.node_default_left,
        forest.node_missing, forest.node_categories, forest.categories, forest.children,
        forest.roots, forest.leaf_value,
    )  # fmt: skip
    run_kernel(
        lambda cores: _parallel(x, values, reachable, raw, f, _BIT_OF, cores),
        lambda: _serial(x, values, reachable, raw, f, _BIT_OF),
        rows,
        threads,
    )
    return np.where(reachable, 1.0 / (1.0 + np.exp(-forest.sigmoid * raw)), 0.0)


forest_of = per_booster(build)  # the booster's flat trees, built on first use
