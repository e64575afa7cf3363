"""Multi-storefront mapping (DESIGN.md "Storefronts, price lists and currencies"): channel assignment,
price-list prices per currency with conversion for the rest, categories of the configured trees,
one listing per Ometria store, and the free data in `properties`. Pure: workers.domain.mapping."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from consumer.webhooks.callbacks import CallbackError, change_for, parse_envelope
from workers.domain.mapping import Channel, MappingContext, convert, map_product
from workers.settings import StoreConfig
from workers.sync.hooks import HANDLED_SCOPES, scopes_for

UK = "https://www.example.co.uk"
FR = "https://www.example.fr"


def product(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 7,
        "name": "Lamp",
        "sku": "L-1",
        "price": 45.0,
        "sale_price": 0,
        "is_visible": True,
        "availability": "available",
        "inventory_tracking": "none",
        "inventory_level": 0,
        "custom_url": {"url": "/lamp/"},
        "categories": [3, 9],
        "brand_id": 0,
        "channels": [1, 2],
        "images": [],
        "variants": [{"id": 70, "option_values": [], "price": 45.0, "sale_price": None}],
        "custom_fields": [],
    }
    base.update(overrides)
    return base


def with_options() -> dict[str, Any]:
    return product(
        variants=[
            {"id": 71, "price": 40.0, "sale_price": None, "option_values": [{"id": 1, "label": "S"}]},
            {"id": 72, "price": 50.0, "sale_price": None, "option_values": [{"id": 2, "label": "L"}]},
            {
                "id": 73,
                "price": 20.0,
                "sale_price": None,
                "purchasing_disabled": True,
                "option_values": [{"id": 3, "label": "XS"}],
            },
        ]
    )


def two_channels(price_list: int | None = 5, categories: frozenset[int] | None = None) -> MappingContext:
    return MappingContext(
        currency="GBP",
        site_url=UK,
        store_id="",
        category_names={3: "Lights", 9: "Lumières"},
        brand_names={},
        channels=(
            Channel(1, "uk", UK, "GBP"),
            Channel(2, "fr", FR, "EUR", rate=1.17, decimal_places=2, price_list_id=price_list),
        ),
        categories=categories,
    )


def one_channel() -> MappingContext:
    return MappingContext(
        currency="GBP", site_url=UK, store_id="", category_names={3: "Lights"}, brand_names={}
    )


def test_one_channel_no_price_list_keeps_every_field() -> None:
    plain = product(channels=None)
    del plain["channels"]
    legacy = map_product(plain, one_channel())[0]
    configured = MappingContext(
        currency="GBP",
        site_url=UK,
        store_id="",
        category_names={3: "Lights"},
        brand_names={},
        channels=(Channel(1, "", UK, "GBP"),),
    )
    assert map_product(product(channels=[1]), configured)[0] == legacy
    assert legacy["stores"] == ["www.example.co.uk"]
    assert legacy["listings"] == [
        {
            "store": "www.example.co.uk",
            "title": "Lamp",
            "price": 45.0,
            "special_price": None,
            "currency": "GBP",
            "url": UK + "/lamp/",
            "image_url": None,
            "is_active": True,
        }
    ]


def test_a_listing_per_channel_with_its_currency_url_and_converted_price() -> None:
    parent = map_product(product(sale_price=40.0), two_channels(price_list=None))[0]
    assert (parent["price"], parent["special_price"], parent["currency"], parent["url"]) == (
        45.0,
        40.0,
        "GBP",
        UK + "/lamp/",
    )
    fr = parent["listings"][1]
    assert fr["store"] == "fr" and fr["currency"] == "EUR" and fr["url"] == FR + "/lamp/"
    assert (fr["price"], fr["special_price"]) == (52.65, 46.8)  # 45 × 1.17, 40 × 1.17
    assert parent["stores"] == ["uk", "fr"] and parent["is_active"] is True


def test_conversion_rounds_half_away_from_zero() -> None:
    assert convert(1.005, 1.0, 2) == 1.01  # binary 1.005 is below; the decimal value is what counts
    assert convert(10.0, 0.125, 2) == 1.25 and convert(0.5, 1.0, 0) == 1.0 and convert(None, 2.0, 2) is None


def test_a_product_not_assigned_to_a_channel_is_not_sold_there() -> None:
    parent = map_product(product(channels=[1]), two_channels())[0]
    assert parent["is_active"] is True and parent["stores"] == ["uk"]
    assert [listing["is_active"] for listing in parent["listings"]] == [True, False]
    nowhere = map_product(with_options() | {"channels": []}, two_channels())
    assert nowhere[0]["is_active"] is False and nowhere[0]["stores"] == []
    assert all(v["is_active"] is False for v in nowhere[1:])


def test_only_channel_two_makes_the_parent_active_but_prices_stay_the_primarys() -> None:
    parent = map_product(product(channels=[2]), two_channels(price_list=None))[0]
    assert parent["is_active"] is True and parent["stores"] == ["fr"] and parent["price"] == 45.0
    assert [listing["is_active"] for listing in parent["listings"]] == [False, True]


def test_price_list_record_beats_conversion_for_a_single_variant_product() -> None:
    prices = {(5, 70, "EUR"): (49.0, 44.0)}
    parent = map_product(product(), two_channels(), prices)[0]
    assert (parent["listings"][1]["price"], parent["listings"][1]["special_price"]) == (49.0, 44.0)
    assert parent["price"] == 45.0  # the primary channel has no price list
    other_currency = {(5, 70, "USD"): (10.0, None)}
    assert map_product(product(), two_channels(), other_currency)[0]["listings"][1]["price"] == 52.65


def test_parent_with_option_variants_takes_the_lowest_purchasable_listed_price() -> None:
    prices = {(5, 71, "EUR"): (60.0, 55.0), (5, 73, "EUR"): (10.0, None)}  # 73 is purchasing_disabled
    records = map_product(with_options(), two_channels(), prices)
    fr = records[0]["listings"][1]
    # 71 listed 60 (sale 55); 72 unlisted: 50 × 1.17 = 58.5; 73 disabled: left out
    assert (fr["price"], fr["special_price"]) == (58.5, None)
    variants = {r["id"]: r for r in records[1:]}
    assert variants["7-71"]["price"] == 40.0 and variants["7-71"]["currency"] == "GBP"  # primary's prices
    no_records = map_product(with_options(), two_channels(), {})[0]["listings"][1]
    assert no_records["price"] == 52.65  # the catalogue rule (product price) converted


def test_variants_price_from_the_primary_channel_price_list() -> None:
    ctx = MappingContext(
        currency="GBP",
        site_url=UK,
        store_id="",
        category_names={},
        brand_names={},
        channels=(Channel(1, "uk", UK, "GBP", price_list_id=8), Channel(2, "fr", FR, "EUR", rate=1.2)),
    )
    records = map_product(with_options(), ctx, {(8, 72, "GBP"): (30.0, 25.0)})
    variants = {r["id"]: r for r in records[1:]}
    assert (variants["7-72"]["price"], variants["7-72"]["special_price"]) == (30.0, 25.0)
    assert records[0]["price"] == 30.0  # lowest purchasable: 40 (71, catalogue) vs 30 (72, listed)


def test_categories_only_from_the_configured_channels_trees() -> None:
    parent = map_product(product(categories=[3, 9, 12]), two_channels(categories=frozenset({3, 12})))[0]
    assert [a["id"] for a in parent["attributes"] if a["type"] == "category"] == ["3", "12"]


def test_the_free_data_goes_into_properties() -> None:
    p = product(
        reviews_count=4,
        reviews_rating_sum=17,
        inventory_tracking="product",
        inventory_level=12,
        availability="preorder",
        preorder_release_date="2027-01-01T00:00:00+00:00",
        is_price_hidden=True,
        custom_fields=[{"name": "Material", "value": "glass"}],
    )
    parent = map_product(p, two_channels(), metafields={"ometria.tag": "new"})[0]
    assert parent["properties"] == {
        "Material": "glass",
        "review_count": 4,
        "rating": 4.25,
        "stock_level": 12,
        "availability": "preorder",
        "preorder_release_date": "2027-01-01T00:00:00+00:00",
        "price_hidden": True,
        "ometria.tag": "new",
    }
    assert parent["is_active"] is True  # preorder is sold
    no_reviews = map_product(product(reviews_count=0, reviews_rating_sum=0), two_channels())[0]
    assert no_reviews["properties"] == {"review_count": 0, "rating": None}


def test_variant_stock_level_per_tracking() -> None:
    p = with_options()
    p["inventory_tracking"] = "variant"
    for level, v in zip((3, 0, 9), p["variants"], strict=True):
        v["inventory_level"] = level
    records = map_product(p, two_channels())
    assert records[0]["properties"]["stock_level"] == 3  # 73 is not purchasable
    assert [r["properties"]["stock_level"] for r in records[1:]] == [3, 0, 9]


def test_mapping_does_not_change_its_inputs() -> None:
    p, prices = with_options(), {(5, 71, "EUR"): (60.0, 55.0)}
    before = copy.deepcopy((p, prices))
    map_product(p, two_channels(), prices, {"a.b": "c"})
    assert (p, prices) == before


# --- the storefront callbacks: shapes the receiver accepts, and what each marks dirty -------------


def change(scope: str, data: Any) -> tuple[str, tuple[int, ...]] | None:
    got = change_for(parse_envelope({"scope": scope, "producer": "stores/abc", "data": data}))
    return None if got is None else (got.entity, got.ids)


@pytest.mark.parametrize(
    ("scope", "data", "want"),
    [
        ("store/channel/2/product/assigned", {"product_id": 127}, ("product", (127,))),
        ("store/channel/2/product/unassigned", {"product_id": 127}, ("product", (127,))),
        ("store/channel/1/category/product/assigned", {"product_id": 5}, ("product", (5,))),
        ("store/channel/2/category/created", {"category_id": 35, "tree_id": 2}, ("category", (35,))),
        ("store/channel/2/category/deleted", {"category_id": 35, "tree_id": 2}, ("category", (35,))),
        ("store/channel/2/categoryTree/updated", {"tree_id": 2}, ("tree", (2,))),
        (
            "store/priceList/record/updated",
            {"price_list_id": 1, "variant_id": 179, "currency": "USD"},
            ("variant", (179,)),
        ),
        (
            "store/priceList/records/created",
            [
                {"price_list_id": 1, "variant_id": 179, "currency": "USD"},
                {"price_list_id": 2, "variant_id": 180, "currency": "USD"},
                {"price_list_id": 1, "variant_id": 179, "currency": "EUR"},
            ],
            ("variant", (179, 180)),
        ),
        ("store/priceList/activated", {"price_list_id": 5}, ("pricelist", (5,))),
        ("store/priceList/deleted", {"price_list_id": 5}, ("pricelist", (5,))),
        ("store/priceLists/deleted", {"price_list_ids": [5, 6]}, ("pricelist", (5, 6))),
        (
            "store/priceList/assignment/updated",
            {"price_list_id": 2, "channel_id": 1, "customer_group_id": 3},
            ("pricelist", (2,)),
        ),
        (
            "store/product/metafield/created",
            {"metafield_id": 12, "resource_id": "118", "resource_type": "product"},
            ("metafield", (118,)),
        ),
        ("store/priceList/records/deleted", [], None),  # names nothing: acknowledged
        ("store/channel/2/order/created", {"order_id": 1}, None),  # not ours
        ("store/channel/02/product/assigned", {"product_id": 1}, None),  # not a channel id
    ],
)
def test_storefront_callbacks_mark_what_they_name(scope: str, data: Any, want: Any) -> None:
    assert change(scope, data) == want


@pytest.mark.parametrize(
    ("scope", "data", "message"),
    [
        ("store/channel/2/product/assigned", {"product_id": "127"}, "data.product_id must be a positive"),
        ("store/priceList/records/updated", {"variant_id": 1}, "data must be a list of price-list records"),
        ("store/priceList/records/updated", [{"variant_id": 1.0}], "data.0.variant_id must be a positive"),
        ("store/priceList/record/created", [{"variant_id": 1}], "data must be an object"),
        ("store/product/metafield/updated", {"resource_id": "0118"}, "data.resource_id must be a positive"),
        ("store/product/metafield/updated", {"resource_id": "9" * 20}, "data.resource_id must be a positive"),
        (
            "store/priceLists/deleted",
            {"price_list_ids": [1, True]},
            "data.price_list_ids.1 must be a positive",
        ),
        ("store/channel/2/categoryTree/updated", {}, "data.tree_id is required"),
    ],
)
def test_malformed_storefront_callbacks_are_refused_naming_the_field(
    scope: str, data: Any, message: str
) -> None:
    with pytest.raises(CallbackError, match="^" + message):
        change(scope, data)


def test_hooks_subscribe_to_every_handled_scope_and_each_configured_channel() -> None:
    two = scopes_for(StoreConfig(store_hash="abc", channel_ids=(1, 2)))
    assert two[: len(HANDLED_SCOPES)] == HANDLED_SCOPES
    assert "store/channel/2/product/unassigned" in two and "store/channel/3/product/unassigned" not in two
    assert {"store/priceList/records/updated", "store/product/metafield/deleted"} <= set(HANDLED_SCOPES)
    for scope in two:  # every scope the hooks subscribe to is one the receiver acts on
        data: Any = [{"variant_id": 1}] if scope.startswith("store/priceList/records/") else {
            "id": 1, "product_id": 1, "category_id": 1, "tree_id": 1, "variant_id": 1, "price_list_id": 1,
            "price_list_ids": [1], "resource_id": "1", "sku": {"product_id": 1},
            "inventory": {"product_id": 1},
        }  # fmt: skip
        assert change(scope, data) is not None, scope


# --- configuration --------------------------------------------------------------------------------


@pytest.fixture
def bare_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> pytest.MonkeyPatch:
    import os

    for key in list(os.environ):
        if key.startswith(("BIGCOMMERCE_", "OMETRIA_", "STORES_FILE", "SYNC_", "BCSYNC_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("BCSYNC_ENV_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("BIGCOMMERCE_STORE_HASH", "abc123")
    return monkeypatch


def test_channels_store_ids_and_namespaces_from_the_environment(bare_env: pytest.MonkeyPatch) -> None:
    from workers.settings import load_settings

    plain = load_settings().stores["abc123"]
    assert (plain.channel_ids, plain.ometria_store_ids, plain.metafield_namespaces) == ((1,), {}, ())
    bare_env.setenv("BIGCOMMERCE_CHANNEL_ID", "3")
    assert load_settings().stores["abc123"].channel_ids == (3,)  # the one-channel shorthand still works
    bare_env.setenv("BIGCOMMERCE_CHANNEL_IDS", " 1, 2 ")
    bare_env.setenv("OMETRIA_STORE_IDS", "1=www.example.co.uk,2=www.example.fr")
    bare_env.setenv("OMETRIA_STORE_ID", "legacy.example")
    bare_env.setenv("BIGCOMMERCE_METAFIELD_NAMESPACES", "ometria, specs")
    store = load_settings().stores["abc123"]
    assert store.channel_ids == (1, 2) and store.channel_id == 1  # the first is the primary
    assert (store.store_id_for(1), store.store_id_for(2)) == ("www.example.co.uk", "www.example.fr")
    assert store.metafield_namespaces == ("ometria", "specs")
    bare_env.setenv("OMETRIA_STORE_IDS", "2=www.example.fr")
    assert load_settings().stores["abc123"].store_id_for(1) == "legacy.example"  # OMETRIA_STORE_ID: primary


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BIGCOMMERCE_CHANNEL_IDS", "1,x"),
        ("BIGCOMMERCE_CHANNEL_IDS", "1,1"),
        ("BIGCOMMERCE_CHANNEL_IDS", "0"),
        ("OMETRIA_STORE_IDS", "www.example.fr"),
        ("OMETRIA_STORE_IDS", "a=www.example.fr"),
    ],
)
def test_a_bad_storefront_variable_is_a_one_line_error_naming_it(
    bare_env: pytest.MonkeyPatch, name: str, value: str
) -> None:
    from workers.settings import ConfigError, load_settings

    bare_env.setenv(name, value)
    with pytest.raises(ConfigError, match=f"^invalid environment: {name}="):
        load_settings()


def test_each_store_of_a_stores_file_has_its_own_channels(
    bare_env: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from workers.settings import load_settings

    path = tmp_path / "stores.toml"
    path.write_text(
        '[stores.storea]\naccess_token = "a"\nwebhook_secret = "s"\nchannel_ids = [1, 2]\n'
        'ometria_store_ids = { "1" = "uk.example", "2" = "fr.example" }\nmetafield_namespaces = ["ometria"]\n'
        '[stores.storeb]\naccess_token = "b"\nwebhook_secret = "t"\n'
    )
    bare_env.setenv("STORES_FILE", str(path))
    stores = load_settings().stores
    assert stores["storea"].channel_ids == (1, 2) and stores["storea"].store_id_for(2) == "fr.example"
    assert stores["storea"].metafield_namespaces == ("ometria",)
    assert stores["storeb"].channel_ids == (1,) and stores["storeb"].store_id_for(1) == ""


def test_bigcommerces_documented_storefront_payloads_pass_the_receivers_checks() -> None:
    """Every example payload of BigCommerce's webhook docs whose scope we handle is read, and names
    what we mark dirty (the docs' `// comments` stripped, their `stores/{store_hash}` filled in)."""
    import json
    import re

    from consumer.webhooks.callbacks import is_handled
    from tests.reference import require_reference

    folder = require_reference("bigcommerce", "docs")
    seen: dict[str, Any] = {}
    for path in sorted(folder.glob("webhook-events*.mdx")):
        for block in re.findall(r"```json[^\n]*\n(.*?)```", path.read_text(), flags=re.S):
            text = re.sub(r"//[^\n]*", "", block).replace("stores/{store_hash}", "stores/abc")
            text = re.sub(r",(\s*[}\]])", r"\1", text)  # trailing commas the comments left
            try:
                body = json.loads(text)
            except ValueError:
                continue
            if isinstance(body, dict) and is_handled(str(body.get("scope"))):
                seen[body["scope"]] = change(body["scope"], body["data"])
    storefront = {
        s: c for s, c in seen.items() if not s.startswith(("store/product/", "store/sku/", "store/category/"))
    }
    want = {
        "store/channel/1/product/assigned": ("product", (127,)),
        "store/channel/1/category/created": ("category", (35,)),
        "store/channel/1/categoryTree/updated": ("tree", (1,)),
        "store/priceLists/deleted": ("pricelist", (5,)),
        "store/priceList/record/created": ("variant", (179,)),
        "store/priceList/records/created": ("variant", (179, 180)),
        "store/priceList/assignment/updated": ("pricelist", (2,)),
    }
    assert want.items() <= storefront.items()
    assert all(c is not None for c in storefront.values()), storefront


def test_a_tree_change_marks_only_categories_that_joined_or_left_the_configured_trees() -> None:
    from workers.sync.storefronts import category_membership_changed

    before = {"categories": {"1": "a", "2": "b", "3": "c"}, "allowed_categories": [1, 2]}
    assert category_membership_changed(before, dict(before)) == set()  # renamed: nothing to re-push
    assert category_membership_changed(before, {**before, "allowed_categories": [1, 3]}) == {2, 3}
    assert category_membership_changed(before, {**before, "allowed_categories": None}) == {3}  # trees gone


def test_the_context_of_a_cache_without_channels_is_the_one_channel_of_before() -> None:
    from workers.sync.storefronts import build_context

    old = {"site_url": UK + "/", "currency": "GBP", "categories": {"3": "Lights"}, "brands": {}}
    ctx = build_context(old, StoreConfig(store_hash="abc", ometria_store_id="uk"))
    assert [(c.id, c.store_id, c.currency) for c in ctx.channels] == [(0, "uk", "GBP")]
    assert map_product(product(channels=[2]), ctx)[0]["is_active"] is True  # no assignment check
