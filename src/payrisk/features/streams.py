"""Event streams: the running state of each entity after each of its events, for point-in-time
lookups.

A history becomes one stream per kind of event (settlements, issues, reminders...), sorted by
(entity, day). The state at a moment t is the state after the last event dated strictly before t,
found by a binary search on the sorted keys: O(log n) per query, and no event dated t or later can
reach it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DAY_SPAN = 1 << 17  # days since 1970 fit below this until the year 2328
SMALL_LOOKUP = 128  # up to this many ids, one hash probe each beats a vectorised get_indexer


def positions(index: pd.Index, ids: np.ndarray | pd.Series | list) -> np.ndarray:
    """Position of each id in a unique `index`, -1 where absent.

    `get_indexer` converts its argument and builds a result at ~90 us a call whatever its size;
    the index's own hash table answers one key in under a microsecond. So a request with a few
    invoices probes the table per id, and anything larger stays vectorised.
    """
    if len(ids) > SMALL_LOOKUP or not index.is_unique:
        return index.get_indexer(np.asarray(ids, dtype=object))
    found = np.empty(len(ids), dtype="int64")
    for i, key in enumerate(ids):
        try:
            found[i] = index.get_loc(key)
        except KeyError:
            found[i] = -1
    return found


@dataclass(frozen=True)
class Stream:
    """Running state of each entity after each of its events, sorted by (entity, day)."""

    keys: np.ndarray
    state: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.keys)

    def locate(self, entity_codes: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index of each query's last event dated strictly before its day, and if one exists."""
        query_keys = entity_codes.astype("int64") * DAY_SPAN + days
        position = np.searchsorted(self.keys, query_keys, side="left") - 1
        safe = np.clip(position, 0, max(len(self.keys) - 1, 0))
        if len(self.keys) == 0:
            return safe, np.zeros(len(query_keys), dtype=bool)
        found = (
            (position >= 0) & (self.keys[safe] // DAY_SPAN == entity_codes) & (entity_codes >= 0)
        )
        return safe, found

    def value(
        self, name: str, located: tuple[np.ndarray, np.ndarray], missing: float
    ) -> np.ndarray:
        position, found = located
        column = self.state[name]
        if len(column) == 0:
            return np.full(len(position), missing, dtype="float64")
        return np.where(found, column[position], missing).astype("float64")

    def compact(self, before_day: int) -> Stream:
        """Keep the last event of each entity before `before_day` and every later one.

        Queries at or after `before_day` get the same answers from the compact stream; it is what
        the online service keeps in memory.
        """
        entity = self.keys // DAY_SPAN
        day = self.keys % DAY_SPAN
        past = day < before_day
        last_of_entity = np.ones(len(self.keys), dtype=bool)
        last_of_entity[:-1] = (entity[1:] != entity[:-1]) | ~past[1:]
        keep = ~past | last_of_entity
        return Stream(self.keys[keep], {k: v[keep] for k, v in self.state.items()})


def build_stream(
    entity_codes: np.ndarray,
    days: np.ndarray,
    sums: dict[str, np.ndarray],
    last: dict[str, np.ndarray] | None = None,
    running_max: dict[str, np.ndarray] | None = None,
    rolling_median: dict[str, tuple[np.ndarray, int]] | None = None,
) -> Stream:
    """Sort events by (entity, day) and compute each entity's running state."""
    keys = entity_codes.astype("int64") * DAY_SPAN + days.astype("int64")
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    entity = pd.Series(entity_codes[order])
    state: dict[str, np.ndarray] = {}
    if sums:
        deltas = pd.DataFrame({k: np.asarray(v, dtype="float64")[order] for k, v in sums.items()})
        cumulative = deltas.groupby(entity.to_numpy(), sort=False).cumsum()
        state.update({k: cumulative[k].to_numpy() for k in sums})
    for name, values in (last or {}).items():
        state[name] = np.asarray(values)[order]
    for name, values in (running_max or {}).items():
        ordered = pd.Series(np.asarray(values, dtype="float64")[order])
        state[name] = ordered.groupby(entity.to_numpy(), sort=False).cummax().to_numpy()
    for name, (values, window) in (rolling_median or {}).items():
        ordered = pd.Series(np.asarray(values, dtype="float64")[order])
        rolled = ordered.groupby(entity.to_numpy(), sort=False).rolling(window, min_periods=1)
        state[name] = rolled.median().reset_index(level=0, drop=True).sort_index().to_numpy()
    return Stream(keys, state)


class Lookup:
    """One stream looked up at every query's moment: the state after its last earlier event."""

    def __init__(self, stream: Stream, entity: np.ndarray, t: np.ndarray) -> None:
        self.stream = stream
        self.located = stream.locate(entity, t)

    def __call__(self, name: str, missing: float = 0.0) -> np.ndarray:
        return self.stream.value(name, self.located, missing)
