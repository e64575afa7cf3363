"""The page's #health section: `liveness()` in the templates, read only when the page shows it."""

from __future__ import annotations

from typing import Any

from consumer.admin import actions
from consumer.admin.blueprint import admin_bp


def liveness() -> dict[str, Any]:
    """Every part's and store's checks (workers.domain.health), for the template; None on error."""
    from workers.ops.liveness import read_health

    health = read_health(actions.settings())
    rows = [{"store": "", **c.as_dict()} for c in health.parts]
    rows += [{"store": s.store, **c.as_dict()} for s in health.stores for c in s.checks]
    return {"healthy": health.healthy, "now": health.as_dict()["now"], "rows": rows}


@admin_bp.context_processor
def _liveness() -> dict[str, Any]:
    return {"liveness": liveness}
