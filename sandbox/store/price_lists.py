"""Price lists and their assignments (per channel, per customer group, or both).

Which list applies to a shopper (multi-storefront-guide.mdx): the assignment matching channel AND customer
group, else the group without a channel, else the channel without a group, else the catalogue price. An
anonymous shopper (what Ometria shows) has no group: the channel's assignment without a group applies.

Callbacks (webhook-events.mdx "Price lists", "Price list assignments"):
| mutation                     | callbacks                                                          |
|------------------------------|--------------------------------------------------------------------|
| create_price_list            | store/priceList/created {"price_list_id"}                          |
| update_price_list            | store/priceList/updated (+ activated / deactivated when `active` changes) |
| delete_price_list            | store/priceList/deleted {"price_list_id"}                          |
| delete_price_lists           | store/priceLists/deleted {"price_list_ids": [...]}                 |
| assign_price_list            | store/priceList/assignment/updated {"price_list_id", "channel_id"?,   |
|                              |   "customer_group_id"?} (a key only when the assignment has it)    |
| delete_price_list_assignments| store/priceList/assignment/deleted (same data), one per assignment |
"""

from __future__ import annotations

from collections.abc import Iterable

from sandbox.store.common import Invalid, NotFound, Result, iso
from sandbox.store.state import StoreState


def _z(ts: float) -> str:
    return iso(ts).replace("+00:00", "Z")


class PriceLists(StoreState):
    """Price lists (name, active) and assignments."""

    def _price_list(self, price_list_id: int) -> dict:
        pl = self._price_lists.get(price_list_id)
        if pl is None:
            raise NotFound(f"price list {price_list_id}")
        return pl

    @staticmethod
    def _render_price_list(pl: dict) -> dict:
        return {
            "id": pl["id"],
            "name": pl["name"],
            "date_created": _z(pl["created"]),
            "date_modified": _z(pl["modified"]),
            "active": pl["active"],
        }

    @staticmethod
    def _render_assignment(a: dict) -> dict:
        out = {"id": a["id"], "price_list_id": a["price_list_id"]}
        if a["customer_group_id"] is not None:
            out["customer_group_id"] = a["customer_group_id"]
        if a["channel_id"] is not None:
            out["channel_id"] = a["channel_id"]
        return out

    @staticmethod
    def _assignment_data(a: dict) -> dict:
        data = {"price_list_id": a["price_list_id"]}
        if a["channel_id"] is not None:
            data["channel_id"] = a["channel_id"]
        if a["customer_group_id"] is not None:
            data["customer_group_id"] = a["customer_group_id"]
        return data

    def price_lists(self) -> list[dict]:
        with self._lock:
            return [self._render_price_list(pl) for pl in self._price_lists.values()]

    def price_list(self, price_list_id: int) -> dict:
        with self._lock:
            return self._render_price_list(self._price_list(price_list_id))

    def price_list_assignments(self) -> list[dict]:
        with self._lock:
            return [self._render_assignment(a) for a in self._pl_assignments.values()]

    def effective_price_list(self, channel_id: int, customer_group_id: int | None = None) -> int | None:
        """The id of the active price list a shopper of `channel_id` (and group) gets, or None."""
        with self._lock:
            by_key = {
                (a["channel_id"], a["customer_group_id"]): a["price_list_id"]
                for a in self._pl_assignments.values()
                if self._price_lists[a["price_list_id"]]["active"]
            }
            keys = [(channel_id, None)]
            if customer_group_id is not None:
                keys = [(channel_id, customer_group_id), (None, customer_group_id), *keys]
            for key in keys:
                if key in by_key:
                    return by_key[key]
            return None

    # ------------------------------------------------------------------ mutations
    def create_price_list(self, name: str, active: bool = True) -> Result:
        with self._lock:
            self._check_price_list_name(name)
            now = int(self.clock())
            pl = {
                "id": self._id("price_list"),
                "name": name,
                "active": bool(active),
                "created": now,
                "modified": now,
            }
            self._price_lists[pl["id"]] = pl
            self._price_records[pl["id"]] = {}
            entity = self._render_price_list(pl)
        return self._emit([("store/priceList/created", {"price_list_id": pl["id"]})], entity)

    def _check_price_list_name(self, name: object, exclude: int | None = None) -> None:
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise Invalid("name must be 1-255 characters", {"name": "invalid"})
        if any(pl["name"] == name and pl["id"] != exclude for pl in self._price_lists.values()):
            raise Invalid("A price list with this name already exists", {"name": "duplicate"}, conflict=True)

    def update_price_list(
        self, price_list_id: int, name: str | None = None, active: bool | None = None
    ) -> Result:
        with self._lock:
            pl = self._price_list(price_list_id)
            if name is not None:
                self._check_price_list_name(name, exclude=price_list_id)
                pl["name"] = name
            data = {"price_list_id": price_list_id}
            pending = [("store/priceList/updated", data)]
            if active is not None and bool(active) != pl["active"]:
                pl["active"] = bool(active)
                pending.append(
                    ("store/priceList/activated" if active else "store/priceList/deactivated", dict(data))
                )
            pl["modified"] = int(self.clock())
            entity = self._render_price_list(pl)
        return self._emit(pending, entity)

    def _drop_price_list(self, price_list_id: int) -> None:
        del self._price_lists[price_list_id]
        self._price_records.pop(price_list_id, None)
        for aid in [k for k, a in self._pl_assignments.items() if a["price_list_id"] == price_list_id]:
            del self._pl_assignments[aid]

    def delete_price_list(self, price_list_id: int) -> Result:
        """Delete a price list, its records and its assignments."""
        with self._lock:
            self._price_list(price_list_id)
            self._drop_price_list(price_list_id)
        return self._emit([("store/priceList/deleted", {"price_list_id": price_list_id})])

    def delete_price_lists(self, price_list_ids: Iterable[int]) -> Result:
        """The batch delete (`DELETE /pricelists?id:in=`): one store/priceLists/deleted."""
        with self._lock:
            gone = [i for i in dict.fromkeys(price_list_ids) if i in self._price_lists]
            for i in gone:
                self._drop_price_list(i)
        return self._emit([("store/priceLists/deleted", {"price_list_ids": gone})] if gone else [])

    def assign_price_list(
        self, price_list_id: int, channel_id: int | None = None, customer_group_id: int | None = None
    ) -> Result:
        """Assign a list to a channel and/or a customer group; replaces the list previously assigned there."""
        if channel_id is None and customer_group_id is None:
            raise Invalid("channel_id or customer_group_id is required", {"channel_id": "required"})
        if customer_group_id is not None and (
            not isinstance(customer_group_id, int) or customer_group_id < 0
        ):
            raise Invalid(
                "customer_group_id must be a non-negative integer", {"customer_group_id": "invalid"}
            )
        with self._lock:
            self._price_list(price_list_id)
            if channel_id is not None:
                self._channel(channel_id)
            existing = next(
                (
                    a
                    for a in self._pl_assignments.values()
                    if (a["channel_id"], a["customer_group_id"]) == (channel_id, customer_group_id)
                ),
                None,
            )
            if existing is None:
                existing = {
                    "id": self._id("assignment"),
                    "channel_id": channel_id,
                    "customer_group_id": customer_group_id,
                }
                self._pl_assignments[existing["id"]] = existing
            existing["price_list_id"] = price_list_id
            entity = self._render_assignment(existing)
            pending = [("store/priceList/assignment/updated", self._assignment_data(existing))]
        return self._emit(pending, entity)

    def delete_price_list_assignments(
        self,
        price_list_id: int | None = None,
        channel_id: int | None = None,
        customer_group_id: int | None = None,
        assignment_ids: Iterable[int] | None = None,
    ) -> Result:
        """Delete the assignments matching every filter given (at least one is required)."""
        if (
            price_list_id is None
            and channel_id is None
            and customer_group_id is None
            and assignment_ids is None
        ):
            raise Invalid(
                "A filter is required to delete price list assignments", {"price_list_id": "required"}
            )
        ids = set(assignment_ids) if assignment_ids is not None else None
        with self._lock:
            doomed = [
                a
                for a in self._pl_assignments.values()
                if (price_list_id is None or a["price_list_id"] == price_list_id)
                and (channel_id is None or a["channel_id"] == channel_id)
                and (customer_group_id is None or a["customer_group_id"] == customer_group_id)
                and (ids is None or a["id"] in ids)
            ]
            for a in doomed:
                del self._pl_assignments[a["id"]]
            pending = [("store/priceList/assignment/deleted", self._assignment_data(a)) for a in doomed]
        return self._emit(pending)
