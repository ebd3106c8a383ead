"""A BentoML endpoint that does nothing: the yardstick for payrisk's own HTTP latency."""

from __future__ import annotations

import bentoml


@bentoml.service(name="bare", traffic={"timeout": 60, "max_concurrency": 32})
class BareService:
    @bentoml.api(route="/v1/score")
    def score(self, invoices: list[dict]) -> dict:
        return {"invoices": len(invoices)}
