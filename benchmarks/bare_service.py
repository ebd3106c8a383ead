"""A BentoML endpoint that does nothing: the yardstick for payrisk's own HTTP latency."""

from __future__ import annotations

import os

import bentoml


# The same worker count as payrisk in the same run (PAYRISK_WORKERS), so that the two compare.
@bentoml.service(
    name="bare",
    traffic={"timeout": 60, "max_concurrency": 32},
    workers=int(os.environ.get("PAYRISK_WORKERS", "1")),
)
class BareService:
    @bentoml.api(route="/v1/score")
    def score(self, invoices: list[dict], with_reasons: bool = True) -> dict:
        """Parses the same JSON body as payrisk's /v1/score and returns a constant-size answer."""
        return {"invoices": len(invoices)}
