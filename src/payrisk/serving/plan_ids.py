"""Plan ids: the next action an answer planned and the facts it was decided on, as an opaque
string the dunning system sends back with the invoice (`planned`) so that the plan persists
(`payrisk.policy.continuity`). Read back strictly: anything but an id this service wrote is
refused by position, never echoed."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

from payrisk.data.contract import CHANNELS
from payrisk.policy.config import ACTORS
from payrisk.policy.continuity import EVENTS, PlannedActions, basis_of
from payrisk.policy.dunning import ACTIONS
from payrisk.serving.errors import RefusedRequestError

PREFIX = "p1."
MAX_LENGTH = 1000
FIRST_DAY = 7305  # 1990-01-01 as a day number since 1970 (core.days), as requests' dates
LAST_DAY = 47482  # 2100-01-01


def plan_id(action: dict[str, Any], basis: dict[str, int]) -> str:
    """The id of one planned action (action, channel, step, template, actor, policy, day number)
    and its basis."""
    body = {**action, "b": basis}
    text = json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return PREFIX + base64.urlsafe_b64encode(text).decode("ascii").rstrip("=")


def plan_ids(
    columns: dict[str, np.ndarray], rows: np.ndarray, basis: dict[str, np.ndarray]
) -> list[str]:
    """The plan id of each of `rows` of the plan's arrays, with its basis (`bases`)."""
    take = {name: np.asarray(columns[name])[rows].tolist() for name in _FIELDS.values()}
    day = np.asarray(columns["action_date"], dtype="datetime64[D]")[rows].astype("int64").tolist()
    out = []
    for k in range(len(rows)):
        step = take["step"][k]
        out.append(
            plan_id(
                {
                    "a": take["action"][k],
                    "c": take["channel"][k],
                    "s": None if step != step else int(step),  # NaN: none
                    "t": take["template"][k],
                    "w": take["actor"][k],
                    "p": take["policy"][k],
                    "d": int(day[k]),
                },
                basis_of(basis, int(rows[k])),
            )
        )
    return out


_FIELDS = {
    "a": "action",
    "c": "channel",
    "s": "step",
    "t": "template",
    "w": "actor",
    "p": "policy",
}


def read_plan_id(value: str, where: str) -> tuple[dict[str, Any], dict[str, int]]:
    """The action and basis of a plan id; refuses anything else, naming `where`."""
    refused = RefusedRequestError(f"{where} is not a plan_id this service gave")
    if not value.startswith(PREFIX) or len(value) > MAX_LENGTH:
        raise refused
    try:
        text = base64.urlsafe_b64decode(value[len(PREFIX) :] + "=" * (-len(value) % 4))
        body = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise refused from error
    if not isinstance(body, dict) or set(body) != {"a", "c", "s", "t", "w", "p", "d", "b"}:
        raise refused
    basis = body.pop("b")
    ok = (
        body["a"] in ACTIONS
        and (body["c"] is None or body["c"] in CHANNELS)
        and (body["s"] is None or (type(body["s"]) is int and 1 <= body["s"] <= 60))
        and (body["t"] is None or (isinstance(body["t"], str) and len(body["t"]) <= 100))
        and body["w"] in ACTORS
        and body["p"] in ("rules", "learned")
        and type(body["d"]) is int
        and FIRST_DAY <= body["d"] <= LAST_DAY
        and isinstance(basis, dict)
        and set(basis) <= set(EVENTS)
        and all(type(v) is int and 0 <= v < 2**32 for v in basis.values())
    )
    if not ok:
        raise refused
    return body, basis


def planned_actions(sent: list[dict[str, Any] | None], n: int) -> PlannedActions:
    """Arrays of the plans sent back (`sent`: per request invoice, None where none or where an
    event changed it), over `n` planned invoices (the others keep nothing)."""
    keep = np.zeros(n, dtype=bool)
    out: dict[str, np.ndarray] = {
        name: np.full(n, None, dtype=object) for name in ("action", "channel", "template")
    }
    out["actor"] = np.full(n, None, dtype=object)
    out["policy"] = np.full(n, None, dtype=object)
    step = np.full(n, np.nan)
    day = np.zeros(n, dtype="int64")
    for k, action in enumerate(sent):
        if action is None:
            continue
        keep[k] = True
        for short, name in _FIELDS.items():
            if name != "step":
                out[name][k] = action[short]
        step[k] = np.nan if action["s"] is None else action["s"]
        day[k] = action["d"]
    return PlannedActions(keep=keep, step=step, day=day, **out)
