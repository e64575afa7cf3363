"""The hooks `bcsync hooks register` creates are exactly the scopes the receiver handles.

`bcsync hooks register` creates one hook per scope of `workers.sync.hooks.HANDLED_SCOPES`
(tests/integration/test_cli.py checks the hooks it creates in the sandbox store). Here every scope
BigCommerce documents, and every scope of that list, is posted to the receiver: the ones it records as
a dirty row must be that list, no more and no less, each marking the entity it is about."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.receiver import make_receiver
from tests.reference import require_reference
from workers.domain.scopes import LIST_DATA_SCOPES
from workers.sync.hooks import HANDLED_SCOPES as REGISTERED


def documented_scopes() -> set[str]:
    """Every concrete scope named in BigCommerce's webhook events docs (wildcards left out)."""
    folder = require_reference("bigcommerce", "docs")
    names: set[str] = set()
    for path in sorted(folder.glob("webhook-events*.mdx")):
        names |= set(re.findall(r"\bstore/[A-Za-z/]+[A-Za-z]", path.read_text()))
    return names


def test_the_receiver_records_exactly_the_scopes_registered(tmp_path: Path) -> None:
    documented = documented_scopes()
    assert set(REGISTERED) <= documented  # we register only scopes BigCommerce has
    receiver = make_receiver(f"sqlite:///{tmp_path / 'bcsync.db'}")
    scopes = sorted(documented | set(REGISTERED))
    for n, scope in enumerate(scopes, start=1):
        # every place a handled scope may keep its id, all holding n (so a row tells which scope it was)
        data: Any = {"type": "x", "id": n, "sku": {"product_id": n}, "inventory": {"product_id": n}}
        data.update(product_id=n, category_id=n, tree_id=n, variant_id=n, price_list_id=n)
        data.update(price_list_ids=[n], resource_id=str(n))  # storefront callbacks (issue 12)
        if scope in LIST_DATA_SCOPES:  # price-list batches: data is a list of records
            data = [{"price_list_id": n, "variant_id": n, "currency": "EUR"}]
        response = receiver.post(receiver.callback(scope=scope, data=data))
        assert response.status_code == 200, (scope, response.get_json())
    recorded = {scopes[n - 1]: entity for entity, n in receiver.dirty()}
    expected = {s: entity_of(s) for s in REGISTERED}
    assert recorded == expected


def entity_of(scope: str) -> str:
    """What a registered scope marks dirty (DESIGN.md; storefront scopes: issue 12)."""
    if scope.startswith("store/category/"):
        return "category"
    if scope.startswith("store/priceList/record"):
        return "variant"  # a price-list record names a variant: the worker finds its product
    if scope.startswith(("store/priceList/", "store/priceLists/")):
        return "pricelist"  # a price list as a whole: the products it prices
    if scope.startswith("store/product/metafield/"):
        return "metafield"  # re-read the product's metafields, then the product if they changed
    return "product"
