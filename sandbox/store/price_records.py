"""Price-list records: one price per (price list, variant, currency), read in batches.

Callbacks (webhook-events.mdx "Price list records"): single-record changes fire
`store/priceList/record/{created,updated,deleted}` with `{"price_list_id", "variant_id", "currency"}`;
the batch calls fire `store/priceList/records/{created,updated,deleted}` whose `data` is a LIST of those.
Currencies are upper case in callbacks; records answer them lower case, as the spec's own examples do.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.store.common import Invalid, NotFound, Result, iso
from sandbox.store.state import StoreState

PRICE_FIELDS = ("price", "sale_price", "retail_price", "map_price")


class PriceRecords(StoreState):
    """Records of every price list, keyed by (variant id, currency)."""

    def _variant_owner(self, variant_id: int) -> tuple[int, dict | None]:
        """(product id, option variant or None for a base variant) of a variant id; NotFound if none."""
        pid = variant_id // 10
        core = self._products.get(pid)
        if core is not None:
            if core["base_variant_id"] == variant_id:
                return pid, None
            self._details(pid)
            for v in self._variants.get(pid, ()):
                if v["id"] == variant_id:
                    return pid, v
        for pid, variants in self._variants.items():  # variants created later have counter ids
            for v in variants:
                if v["id"] == variant_id:
                    return pid, v
        raise NotFound(f"variant {variant_id}")

    def _variant_ids(self, pid: int) -> list[int]:
        self._details(pid)
        core = self._products[pid]
        if core["base_variant_id"] is not None:
            return [core["base_variant_id"]]
        return [v["id"] for v in self._variants.get(pid, ())]

    def _render_record(self, price_list_id: int, r: dict, includes: Iterable[str] = ()) -> dict:
        out: dict[str, Any] = {"price_list_id": price_list_id, "variant_id": r["vid"], "product_id": r["pid"]}
        for key in PRICE_FIELDS:
            if r[key] is not None:
                out[key] = r[key]
        sale = r["sale_price"]
        out["calculated_price"] = sale if sale is not None and sale > 0 else r["price"]
        out["date_created"] = iso(r["created"]).replace("+00:00", "Z")
        out["date_modified"] = iso(r["modified"]).replace("+00:00", "Z")
        out["currency"] = r["currency"].lower()
        for include in includes:
            if include == "bulk_pricing_tiers":
                out["bulk_pricing_tiers"] = []
            elif include == "sku":
                out["sku"] = self._variant_sku(r["pid"], r["vid"])
        return out

    def _variant_sku(self, pid: int, vid: int) -> str:
        core = self._products.get(pid)
        if core is None:
            return ""
        if core["base_variant_id"] == vid:
            return core["sku"]
        return next((v["sku"] for v in self._variants.get(pid, ()) if v["id"] == vid), "")

    def price_records(
        self,
        price_list_id: int,
        product_ids: Iterable[int] | None = None,
        variant_ids: Iterable[int] | None = None,
        currencies: Iterable[str] | None = None,
        includes: Iterable[str] = (),
    ) -> list[dict]:
        """A list's records, by variant id then currency; `product_ids` filter through an index."""
        with self._lock:
            self._price_list(price_list_id)
            records = self._price_records[price_list_id]
            pids = set(product_ids) if product_ids is not None else None
            vids = set(variant_ids) if variant_ids is not None else None
            curs = {c.upper() for c in currencies} if currencies is not None else None
            chosen = [
                r
                for r in records.values()
                if (pids is None or r["pid"] in pids)
                and (vids is None or r["vid"] in vids)
                and (curs is None or r["currency"] in curs)
            ]
            chosen.sort(key=lambda r: (r["vid"], r["currency"]))
            includes = tuple(includes)
            return [self._render_record(price_list_id, r, includes) for r in chosen]

    def _clean_record(self, fields: dict) -> dict:
        errors: dict[str, str] = {}
        out: dict[str, Any] = {}
        for key in PRICE_FIELDS:
            value = fields.get(key)
            if value is not None and (
                not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0
            ):
                errors[key] = f"{key} must be a number >= 0"
            out[key] = None if value is None else float(value)
        if out["price"] is None:
            errors["price"] = "price is required"
        if errors:
            raise Invalid("The request payload is invalid", errors)
        return out

    def _check_record(self, variant_id: object, currency: object, fields: dict) -> tuple[int, str, int, dict]:
        """(variant id, currency, product id, prices) of a valid record; Invalid / NotFound otherwise."""
        if not isinstance(variant_id, int) or isinstance(variant_id, bool):
            raise Invalid("every record needs an integer variant_id", {"variant_id": "required"})
        if not isinstance(currency, str) or len(currency) != 3:
            raise Invalid("currency must be an ISO 4217 code", {"currency": "invalid"})
        code = currency.upper()
        if code not in self._currencies:
            raise Invalid(f"currency {code} is not enabled on the store", {"currency": "unknown"})
        prices = self._clean_record(fields)
        pid, _variant = self._variant_owner(variant_id)
        return variant_id, code, pid, prices

    def _store_record(self, price_list_id: int, checked: tuple[int, str, int, dict]) -> tuple[str, dict]:
        vid, code, pid, prices = checked
        records = self._price_records[price_list_id]
        now = int(self.clock())
        record = records.get((vid, code))
        kind = "updated" if record is not None else "created"
        if record is None:
            record = records[(vid, code)] = {"vid": vid, "pid": pid, "currency": code, "created": now}
        record.update(prices, modified=now)
        self._price_lists[price_list_id]["modified"] = now
        return kind, {"price_list_id": price_list_id, "variant_id": vid, "currency": code}

    def set_price_record(self, price_list_id: int, variant_id: int, currency: str, **prices: Any) -> Result:
        """Create or replace one record (`PUT /pricelists/{id}/records/{variant_id}/{currency}`)."""
        with self._lock:
            self._price_list(price_list_id)
            kind, data = self._store_record(price_list_id, self._check_record(variant_id, currency, prices))
            entity = self._render_record(
                price_list_id, self._price_records[price_list_id][(data["variant_id"], data["currency"])]
            )
        return self._emit([(f"store/priceList/record/{kind}", data)], entity)

    def upsert_price_records(self, price_list_id: int, records: list[dict]) -> Result:
        """The batch upsert (`PUT /pricelists/{id}/records`): records/created and records/updated (lists)."""
        if not isinstance(records, list) or not 1 <= len(records) <= 1000:
            raise Invalid("between 1 and 1000 records per request", {"records": "count"})
        with self._lock:
            self._price_list(price_list_id)
            checked = [  # the whole batch is checked before anything changes
                self._check_record(
                    item.get("variant_id") if isinstance(item, dict) else None,
                    item.get("currency", "") if isinstance(item, dict) else "",
                    {k: item.get(k) for k in PRICE_FIELDS} if isinstance(item, dict) else {},
                )
                for item in records
            ]
            created: list[dict] = []
            updated: list[dict] = []
            for entry in checked:
                kind, data = self._store_record(price_list_id, entry)
                (created if kind == "created" else updated).append(data)
        pending = [
            (f"store/priceList/records/{k}", d) for k, d in (("created", created), ("updated", updated)) if d
        ]
        return self._emit(pending)  # type: ignore[arg-type]

    def delete_price_record(self, price_list_id: int, variant_id: int, currency: str) -> Result:
        with self._lock:
            self._price_list(price_list_id)
            key = (int(variant_id), currency.upper())
            if key not in self._price_records[price_list_id]:
                raise NotFound(f"price record {variant_id}/{currency} of price list {price_list_id}")
            del self._price_records[price_list_id][key]
            data = {"price_list_id": price_list_id, "variant_id": key[0], "currency": key[1]}
        return self._emit([("store/priceList/record/deleted", data)])

    def delete_price_records(
        self, price_list_id: int, variant_ids: Iterable[int] | None = None, currency: str | None = None
    ) -> Result:
        """The batch delete (`DELETE /pricelists/{id}/records`): one records/deleted listing them."""
        with self._lock:
            self._price_list(price_list_id)
            vids = set(variant_ids) if variant_ids is not None else None
            records = self._price_records[price_list_id]
            doomed = [
                k
                for k in records
                if (vids is None or k[0] in vids) and (currency is None or k[1] == currency.upper())
            ]
            data = [
                {"price_list_id": price_list_id, "variant_id": v, "currency": c} for v, c in sorted(doomed)
            ]
            for k in doomed:
                del records[k]
        return self._emit([("store/priceList/records/deleted", data)] if data else [])  # type: ignore[list-item]

    def _drop_variant_records(self, variant_ids: Iterable[int]) -> None:
        """A deleted variant loses its records (no callback: BigCommerce fires none for that)."""
        vids = set(variant_ids)
        for records in self._price_records.values():
            for key in [k for k in records if k[0] in vids]:
                del records[key]
