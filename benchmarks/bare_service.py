"""A BentoML endpoint that does nothing: the yardstick for payrisk's own HTTP latency."""

from __future__ import annotations

import os

import bentoml

# The same worker count and per-worker concurrency limit as payrisk in the same run
# (PAYRISK_WORKERS, PAYRISK_MAX_CONCURRENCY), so that the two compare: BentoML divides its own
# limit among the workers, payrisk's is per worker.
WORKERS = int(os.environ.get("PAYRISK_WORKERS", "1"))
PER_WORKER = int(os.environ.get("PAYRISK_MAX_CONCURRENCY", "32"))


@bentoml.service(
    name="bare", traffic={"timeout": 60, "max_concurrency": PER_WORKER * WORKERS}, workers=WORKERS
)
class BareService:
    @bentoml.api(route="/v1/score")
    def score(self, invoices: list[dict], with_reasons: bool = True) -> dict:
        """Parses the same JSON body as payrisk's /v1/score and returns a constant-size answer."""
        return {"invoices": len(invoices)}
