"""The BigCommerce -> Ometria mapping, row by row of DESIGN.md's table, with plain-data products.

Products are built by small factories shaped like `GET /v3/catalog/products?include=variants,images,
custom_fields` items; property tests (hypothesis) check determinism, totality and record shape over
generated products; one test maps the examples in BigCommerce's own OpenAPI spec.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reference import openapi_spec
from workers.domain.fingerprint import fingerprint
from workers.domain.mapping import (
    LISTING_FIELDS,
    PARENT_FIELDS,
    VARIANT_FIELDS,
    MappingContext,
    deactivation,
    default_store_id,
    map_product,
    missing_names,
)

SITE = "https://shop.example.com"
CATEGORY_NAMES = {21: "Kitchen", 23: "Jars", 24: "Glass"}
BRAND_NAMES = {36: "Le Parfait"}


def context(**overrides: Any) -> MappingContext:
    fields: dict[str, Any] = {
        "currency": "GBP",
        "site_url": SITE,
        "store_id": "",
        "category_names": CATEGORY_NAMES,
        "brand_names": BRAND_NAMES,
    }
    fields.update(overrides)
    return MappingContext(**fields)


def option(label: str, name: str = "Size", value_id: int = 146, option_id: int = 151) -> dict[str, Any]:
    return {"option_display_name": name, "label": label, "id": value_id, "option_id": option_id}


def variant(variant_id: int, *options: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": variant_id,
        "product_id": 7,
        "sku": f"JAR-{variant_id}",
        "sku_id": variant_id + 1000,
        "price": None,
        "sale_price": None,
        "retail_price": None,
        "inventory_level": 3,
        "purchasing_disabled": False,
        "purchasing_disabled_message": "",
        "image_url": "",
        "option_values": list(options),
        "calculated_price": 10.0,
    }
    fields.update(overrides)
    return fields


def image(image_id: int, sort_order: int, thumbnail: bool = False, url: str | None = None) -> dict[str, Any]:
    standard = f"https://cdn.example.com/standard/{image_id}.jpg" if url is None else url
    return {
        "id": image_id,
        "product_id": 7,
        "is_thumbnail": thumbnail,
        "sort_order": sort_order,
        "description": "",
        "image_file": f"a/{image_id}.jpg",
        "url_zoom": f"https://cdn.example.com/zoom/{image_id}.jpg",
        "url_standard": standard,
        "url_thumbnail": f"https://cdn.example.com/thumb/{image_id}.jpg",
        "url_tiny": f"https://cdn.example.com/tiny/{image_id}.jpg",
    }


def custom_field(name: str, value: str, field_id: int = 1) -> dict[str, Any]:
    return {"id": field_id, "name": name, "value": value}


def product(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": 7,
        "name": "Le Parfait Jar",
        "type": "physical",
        "sku": "JAR",
        "price": 10.0,
        "sale_price": 0,
        "retail_price": 0,
        "categories": [],
        "brand_id": 0,
        "inventory_level": 5,
        "inventory_tracking": "none",
        "is_visible": True,
        "availability": "available",
        "total_sold": 3,
        "custom_url": {"url": "/le-parfait-jar/", "is_customized": False},
        "variants": [],
        "images": [],
        "custom_fields": [],
    }
    fields.update(overrides)
    return fields


def parent_of(p: dict[str, Any], ctx: MappingContext | None = None) -> dict[str, Any]:
    return map_product(p, ctx or context())[0]


def variants_of(p: dict[str, Any], ctx: MappingContext | None = None) -> list[dict[str, Any]]:
    return map_product(p, ctx or context())[1:]


# -- parent --------------------------------------------------------------------------------------


def test_parent_identity_and_plain_fields() -> None:
    rec = parent_of(product(id=42, sku="SKU-42", name="Glass Jar"))
    assert rec["@type"] == "product"
    assert rec["id"] == "42"
    assert (rec["sku"], rec["title"]) == ("SKU-42", "Glass Jar")
    assert rec["is_variant"] is False
    assert rec["currency"] == "GBP"
    assert rec["url"] == "https://shop.example.com/le-parfait-jar/"


def test_price_is_a_float_and_int_or_float_input_maps_the_same() -> None:
    as_int, as_float = (
        parent_of(product(price=10, sale_price=8)),
        parent_of(product(price=10.0, sale_price=8.0)),
    )
    assert as_int == as_float
    assert isinstance(as_int["price"], float) and isinstance(as_int["special_price"], float)


@pytest.mark.parametrize(
    ("price", "sale_price", "special"),
    [
        (10.0, 8.0, 8.0),  # a real sale
        (10.0, 0, None),  # BigCommerce's "no sale"
        (10.0, 10.0, None),  # not below the price
        (10.0, 12.5, None),  # above the price
        (10.0, None, None),
        (None, 5.0, None),  # no price: no sale either
        (0, 0, None),
        (19.99, 19.98, 19.98),
    ],
)
def test_special_price_only_when_sale_price_is_between_zero_and_price(
    price: float | None, sale_price: float | None, special: float | None
) -> None:
    rec = parent_of(product(price=price, sale_price=sale_price))
    assert rec["special_price"] == special
    assert rec["listings"][0]["special_price"] == special


def test_url_joins_channel_site_and_custom_url_with_one_slash() -> None:
    assert (
        parent_of(product(), context(site_url=SITE + "/"))["url"]
        == "https://shop.example.com/le-parfait-jar/"
    )
    no_slash = product(custom_url={"url": "jar/", "is_customized": True})
    assert parent_of(no_slash)["url"] == "https://shop.example.com/jar/"
    assert parent_of(product(custom_url=None))["url"] is None


def test_image_is_the_thumbnail_even_when_it_sorts_later() -> None:
    p = product(images=[image(1, 0), image(2, 5, thumbnail=True), image(3, 1)])
    assert parent_of(p)["image_url"] == "https://cdn.example.com/standard/2.jpg"


def test_image_without_thumbnail_is_the_lowest_sort_order() -> None:
    p = product(images=[image(1, 3), image(2, 1), image(3, 2)])
    assert parent_of(p)["image_url"] == "https://cdn.example.com/standard/2.jpg"


def test_image_sort_order_tie_goes_to_the_lowest_image_id() -> None:
    p = product(images=[image(9, 0), image(4, 0), image(6, 0)])
    assert parent_of(p)["image_url"] == "https://cdn.example.com/standard/4.jpg"
    # the order BigCommerce lists them in does not matter
    p_reordered = product(images=[image(6, 0), image(4, 0), image(9, 0)])
    assert parent_of(p_reordered)["image_url"] == parent_of(p)["image_url"]


def test_image_is_null_without_images_and_skips_images_without_url() -> None:
    assert parent_of(product(images=[]))["image_url"] is None
    p = product(images=[image(1, 0, thumbnail=True, url=""), image(2, 4)])
    assert parent_of(p)["image_url"] == "https://cdn.example.com/standard/2.jpg"


@pytest.mark.parametrize(
    ("is_visible", "availability", "active"),
    [
        (True, "available", True),
        (True, "preorder", True),
        (True, "disabled", False),
        (False, "available", False),
        (False, "disabled", False),
    ],
)
def test_is_active_needs_visible_and_not_disabled(is_visible: bool, availability: str, active: bool) -> None:
    rec = parent_of(product(is_visible=is_visible, availability=availability))
    assert rec["is_active"] is active
    assert rec["listings"][0]["is_active"] is active


@pytest.mark.parametrize(
    ("tracking", "level", "variants", "in_stock"),
    [
        ("none", 0, [], True),
        ("product", 0, [], False),
        ("product", 3, [], True),
        ("variant", 99, [variant(1, option("S"), inventory_level=0)], False),
        ("variant", 0, [variant(1, option("S"), inventory_level=2)], True),
        ("variant", 0, [variant(1, option("S"), inventory_level=2, purchasing_disabled=True)], False),
        (
            "variant",
            0,
            [
                variant(1, option("S"), inventory_level=0),
                variant(2, option("M", value_id=147), inventory_level=1),
            ],
            True,
        ),
    ],
)
def test_parent_is_in_stock_per_tracking_mode(
    tracking: str, level: int, variants: list[dict[str, Any]], in_stock: bool
) -> None:
    assert (
        parent_of(product(inventory_tracking=tracking, inventory_level=level, variants=variants))[
            "is_in_stock"
        ]
        is in_stock
    )


def test_category_attributes_use_names_sorted_by_id_and_brand_comes_last() -> None:
    rec = parent_of(product(categories=[24, 21], brand_id=36))
    assert rec["attributes"] == [
        {"type": "category", "id": "21", "label": "Kitchen"},
        {"type": "category", "id": "24", "label": "Glass"},
        {"type": "brand", "id": "36", "label": "Le Parfait"},
    ]


def test_unknown_category_or_brand_name_labels_with_the_id() -> None:
    rec = parent_of(product(categories=[99], brand_id=77))
    assert rec["attributes"] == [
        {"type": "category", "id": "99", "label": "99"},
        {"type": "brand", "id": "77", "label": "77"},
    ]
    # and the flush can learn which names to fetch first
    assert missing_names([product(categories=[21, 99], brand_id=77)], context()) == ({99}, {77})


def test_no_brand_attribute_when_brand_id_is_zero_or_absent() -> None:
    assert parent_of(product(brand_id=0))["attributes"] == []
    p = product()
    del p["brand_id"]
    assert parent_of(p)["attributes"] == []


def test_category_ids_typed_as_numbers_map_to_integer_strings() -> None:
    # the spec types `categories` items as `number`: 23.0 is category 23
    assert [a["id"] for a in parent_of(product(categories=[23.0, 21]))["attributes"]] == ["21", "23"]


def test_properties_join_repeated_custom_field_names_in_bigcommerce_order() -> None:
    fields = [
        custom_field("Material", "glass", 1),
        custom_field("Colour", "clear", 2),
        custom_field("Material", "steel", 3),
        custom_field("Material", "rubber", 4),
    ]
    assert parent_of(product(custom_fields=fields))["properties"] == {
        "Material": "glass, steel, rubber",
        "Colour": "clear",
    }


def test_one_listing_for_the_store_with_the_parents_values() -> None:
    p = product(price=10.0, sale_price=7.5, images=[image(1, 0)])
    rec = parent_of(p)
    assert len(rec["listings"]) == 1
    listing = rec["listings"][0]
    assert set(listing) == set(LISTING_FIELDS)
    assert listing["store"] == "shop.example.com"  # host name of the site URL by default
    for name in ("title", "price", "special_price", "currency", "url", "image_url", "is_active"):
        assert listing[name] == rec[name]
    assert parent_of(p, context(store_id="uk-store"))["listings"][0]["store"] == "uk-store"


def test_default_store_id_is_the_host_name() -> None:
    assert default_store_id("https://www.Example.com/") == "www.example.com"
    assert default_store_id("https://shop.example.com:8443/path") == "shop.example.com"


def test_every_field_is_present_and_null_when_the_store_has_no_value() -> None:
    rec = parent_of(product(sku="", price=None, sale_price=None, custom_url=None))
    assert tuple(rec) == PARENT_FIELDS
    assert rec["sku"] is None and rec["price"] is None and rec["special_price"] is None
    assert rec["url"] is None and rec["image_url"] is None
    assert rec["attributes"] == [] and rec["properties"] == {}


def test_a_sale_that_ends_becomes_null_not_absent() -> None:
    on_sale, ended = parent_of(product(sale_price=8.0)), parent_of(product(sale_price=0))
    assert on_sale["special_price"] == 8.0
    assert "special_price" in ended and ended["special_price"] is None
    assert fingerprint(on_sale) != fingerprint(ended)


# -- variants ------------------------------------------------------------------------------------


def test_variant_records_follow_the_parent() -> None:
    p = product(
        variants=[
            variant(11, option("Small", "Size", 1), option("Red", "Colour", 2)),
            variant(12, option("Large", "Size", 3), option("Blue", "Colour", 4)),
        ]
    )
    records = map_product(p, context())
    assert [r["id"] for r in records] == ["7", "7-11", "7-12"]
    small = records[1]
    assert tuple(small) == VARIANT_FIELDS
    assert small["is_variant"] is True
    assert small["sku"] == "JAR-11"
    assert small["title"] == "Le Parfait Jar - Small / Red"
    assert small["url"] == records[0]["url"]
    assert small["currency"] == "GBP"
    assert small["attributes"] == [
        {"type": "Size", "id": "1", "label": "Small"},
        {"type": "Colour", "id": "2", "label": "Red"},
    ]
    assert small["properties"] == {"parent_id": "7"}
    assert "listings" not in small


def test_variant_without_option_values_gets_no_record() -> None:
    # a simple product's base variant has no option values: the parent stands for it
    assert variants_of(product(variants=[variant(11)])) == []
    p = product(variants=[variant(11), variant(12, option("M"))])
    assert [v["id"] for v in variants_of(p)] == ["7-12"]


def test_variant_price_falls_back_to_the_product_price_field_by_field() -> None:
    p = product(
        price=10.0,
        sale_price=8.0,
        variants=[
            variant(1, option("A"), price=None, sale_price=None),  # both from the product
            variant(2, option("B"), price=12.0, sale_price=None),  # own price, product's sale price
            variant(3, option("C"), price=7.0, sale_price=None),  # product sale 8 is not below 7
            variant(4, option("D"), price=None, sale_price=9.5),  # product price, own sale
            variant(5, option("E"), price=20.0, sale_price=0),  # own "no sale" beats product's sale
        ],
    )
    got = {v["id"]: (v["price"], v["special_price"]) for v in variants_of(p)}
    assert got == {
        "7-1": (10.0, 8.0),
        "7-2": (12.0, 8.0),
        "7-3": (7.0, None),
        "7-4": (10.0, 9.5),
        "7-5": (20.0, None),
    }


def test_variant_image_is_its_own_else_the_parents() -> None:
    p = product(
        images=[image(1, 0, thumbnail=True)],
        variants=[
            variant(1, option("A"), image_url="https://cdn.example.com/variant/1.jpg"),
            variant(2, option("B"), image_url=""),
            variant(3, option("C")),
        ],
    )
    p["variants"][2].pop("image_url")
    assert [v["image_url"] for v in variants_of(p)] == [
        "https://cdn.example.com/variant/1.jpg",
        "https://cdn.example.com/standard/1.jpg",
        "https://cdn.example.com/standard/1.jpg",
    ]


@pytest.mark.parametrize(
    ("parent_active", "purchasing_disabled", "active"),
    [(True, False, True), (True, True, False), (False, False, False), (False, True, False)],
)
def test_variant_is_active_needs_active_parent_and_purchasable(
    parent_active: bool, purchasing_disabled: bool, active: bool
) -> None:
    p = product(
        is_visible=parent_active, variants=[variant(1, option("A"), purchasing_disabled=purchasing_disabled)]
    )
    assert variants_of(p)[0]["is_active"] is active


@pytest.mark.parametrize(
    ("tracking", "product_level", "variant_level", "disabled", "in_stock"),
    [
        ("none", 0, 0, True, True),
        ("product", 4, 0, False, True),  # the product's level decides, not the variant's
        ("product", 0, 9, False, False),
        ("variant", 0, 2, False, True),
        ("variant", 50, 0, False, False),
        ("variant", 0, 2, True, False),
    ],
)
def test_variant_is_in_stock_per_tracking_mode(
    tracking: str, product_level: int, variant_level: int, disabled: bool, in_stock: bool
) -> None:
    p = product(
        inventory_tracking=tracking,
        inventory_level=product_level,
        variants=[variant(1, option("A"), inventory_level=variant_level, purchasing_disabled=disabled)],
    )
    assert variants_of(p)[0]["is_in_stock"] is in_stock


def test_record_ids_are_unique_even_with_a_repeated_variant() -> None:
    p = product(
        variants=[variant(1, option("A")), variant(1, option("A")), variant(2, option("B", value_id=2))]
    )
    ids = [r["id"] for r in map_product(p, context())]
    assert ids == ["7", "7-1", "7-2"]


def test_deactivation_record() -> None:
    assert deactivation("7-11") == {"@type": "product", "id": "7-11", "is_active": False, "@merge": True}


# -- robustness ----------------------------------------------------------------------------------


def test_a_product_with_only_an_id_maps_without_error() -> None:
    records = map_product({"id": 5}, context())
    assert len(records) == 1 and tuple(records[0]) == PARENT_FIELDS
    assert records[0]["is_active"] is False  # visibility unknown: not advertised
    assert records[0]["is_in_stock"] is True  # tracking unknown: BigCommerce's default, none


def test_a_product_without_an_id_is_refused() -> None:
    with pytest.raises(ValueError, match="id"):
        map_product({"name": "no id"}, context())


def test_mapping_does_not_change_its_input() -> None:
    p = product(categories=[24, 21], variants=[variant(1, option("A"))], images=[image(1, 0)])
    before = copy.deepcopy(p)
    map_product(p, context())
    assert p == before


def test_total_sold_and_other_noise_do_not_change_the_records() -> None:
    # reviews_count is no longer noise: DESIGN.md's storefront section maps it to properties.review_count
    a, b = product(total_sold=3), product(total_sold=300, view_count=1000)
    assert [fingerprint(r) for r in map_product(a, context())] == [
        fingerprint(r) for r in map_product(b, context())
    ]


# -- property tests ------------------------------------------------------------------------------

_money = st.one_of(st.none(), st.integers(0, 10_000), st.floats(0, 10_000, allow_nan=False))
_text = st.one_of(st.none(), st.text(max_size=12))
_ids = st.integers(1, 2**31 - 1)

_options = st.lists(
    st.fixed_dictionaries(
        {
            "option_display_name": st.sampled_from(["Size", "Colour"]),
            "label": st.text(min_size=1, max_size=8),
        },
        optional={"id": _ids, "option_id": _ids},
    ),
    max_size=3,
)
_variants = st.lists(
    st.fixed_dictionaries(
        {"id": _ids, "option_values": _options},
        optional={
            "sku": _text,
            "price": _money,
            "sale_price": _money,
            "inventory_level": st.one_of(st.none(), st.integers(0, 50)),
            "purchasing_disabled": st.booleans(),
            "image_url": st.one_of(st.just(""), st.just("https://cdn.example.com/v.jpg")),
        },
    ),
    max_size=5,
)
_images = st.lists(
    st.fixed_dictionaries(
        {"id": _ids},
        optional={
            "is_thumbnail": st.booleans(),
            "sort_order": st.integers(-(2**31), 2**31 - 1),
            "url_standard": st.sampled_from(
                ["", "https://cdn.example.com/a.jpg", "https://cdn.example.com/b.jpg"]
            ),
        },
    ),
    max_size=4,
)
_custom_fields = st.lists(
    st.fixed_dictionaries(
        {"name": st.sampled_from(["Material", "Colour", "Care"]), "value": st.text(max_size=8)}
    ),
    max_size=5,
)
products = st.fixed_dictionaries(
    {"id": _ids},
    optional={
        "name": _text,
        "sku": _text,
        "price": _money,
        "sale_price": _money,
        "categories": st.lists(st.one_of(st.integers(1, 40), st.integers(1, 40).map(float)), max_size=4),
        "brand_id": st.one_of(st.just(0), st.integers(1, 40)),
        "inventory_level": st.integers(0, 20),
        "inventory_tracking": st.sampled_from(["none", "product", "variant"]),
        "is_visible": st.booleans(),
        "availability": st.sampled_from(["available", "disabled", "preorder"]),
        "custom_url": st.fixed_dictionaries({"url": st.sampled_from(["/a/", "/b-c/", "d/"])}),
        "variants": _variants,
        "images": _images,
        "custom_fields": _custom_fields,
    },
)
contexts = st.builds(
    MappingContext,
    currency=st.sampled_from(["GBP", "USD", "EUR"]),
    site_url=st.sampled_from(["https://shop.example.com", "https://www.example.co.uk/"]),
    store_id=st.sampled_from(["", "uk"]),
    category_names=st.dictionaries(st.integers(1, 40), st.text(min_size=1, max_size=8), max_size=10),
    brand_names=st.dictionaries(st.integers(1, 40), st.text(min_size=1, max_size=8), max_size=5),
)
_fast = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_fast
@given(products, contexts)
def test_mapping_is_deterministic(p: dict[str, Any], ctx: MappingContext) -> None:
    first = map_product(p, ctx)
    again = map_product(copy.deepcopy(p), ctx)
    assert first == again
    assert [fingerprint(r) for r in first] == [fingerprint(r) for r in again]


@_fast
@given(products, contexts)
def test_every_record_has_every_field_and_ids_are_unique(p: dict[str, Any], ctx: MappingContext) -> None:
    records = map_product(p, ctx)
    parent, variants = records[0], records[1:]
    assert tuple(parent) == PARENT_FIELDS
    assert all(tuple(v) == VARIANT_FIELDS for v in variants)
    assert all(set(listing) == set(LISTING_FIELDS) for listing in parent["listings"])
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))
    assert all(v["properties"]["parent_id"] == parent["id"] for v in variants)
    expected = {f"{p['id']}-{v['id']}" for v in p.get("variants", []) if v["option_values"]}
    assert {v["id"] for v in variants} == expected


@_fast
@given(products, contexts)
def test_special_price_is_always_a_real_discount(p: dict[str, Any], ctx: MappingContext) -> None:
    for rec in map_product(p, ctx):
        if rec["special_price"] is not None:
            assert rec["price"] is not None and 0 < rec["special_price"] < rec["price"]
        for name in ("price", "special_price"):
            assert rec[name] is None or isinstance(rec[name], float)


@_fast
@given(products, contexts)
def test_records_pass_the_sandbox_ometria_validation(p: dict[str, Any], ctx: MappingContext) -> None:
    validator = pytest.importorskip("sandbox.ometria", reason="the sandbox Ometria is not in this checkout")
    for rec in map_product(p, ctx):
        assert validator.product_errors(rec) == [], rec


# -- BigCommerce's own examples --------------------------------------------------------------------


def _spec_examples() -> dict[str, Any]:
    spec = openapi_spec("products_catalog.v3.yml")  # skips with a reason when the reference is absent
    schemas = spec["components"]["schemas"]
    get_one = spec["paths"]["/catalog/products/{product_id}"]["get"]["responses"]["200"]["content"]
    return {
        "product_list": schemas["product_Base_response"]["x-examples"]["example"]["data"][0],
        "product_one": get_one["application/json"]["example"]["data"],
        "variant": schemas["productVariant_Full"]["x-examples"]["example-1"],
        "custom_field": {
            name: prop.get("example")
            for name, prop in schemas["productCustomField_Base"]["properties"].items()
        },
    }


def test_products_from_the_bigcommerce_spec_examples_map_without_error() -> None:
    examples = _spec_examples()
    ctx = context(category_names={24: "Dresses"}, brand_names={37: "Smith"})
    built = copy.deepcopy(examples["product_list"])  # the parsed spec is cached and shared
    variant_example = dict(copy.deepcopy(examples["variant"]), id=112, product_id=built["id"])
    built["variants"] = [variant_example]
    built["images"] = [image(1, 0, thumbnail=True)]
    built["custom_fields"] = [examples["custom_field"], dict(examples["custom_field"], id=7, value="second")]
    records = map_product(built, ctx)
    parent = records[0]
    assert parent["id"] == str(built["id"]) and parent["title"] == built["name"]
    assert parent["url"] == SITE + built["custom_url"]["url"]
    assert {"type": "brand", "id": "37", "label": "Smith"} in parent["attributes"]
    # the custom fields, then the free data DESIGN.md's storefront section adds (the example's values)
    assert parent["properties"] == {
        "ISBN": "1234567890123, second",
        "review_count": 0,
        "rating": None,
        "stock_level": 100,
        "price_hidden": True,
    }
    option_value = variant_example["option_values"][0]
    assert records[1]["title"] == f"{built['name']} - {option_value['label']}"
    assert records[1]["attributes"] == [
        {
            "type": option_value["option_display_name"],
            "id": str(option_value["id"]),
            "label": option_value["label"],
        }
    ]
    one = examples["product_one"]  # GET /catalog/products/{id}'s example, as BigCommerce gives it
    one_parent = map_product(one, ctx)[0]
    assert one_parent["id"] == str(one["id"]) and one_parent["price"] == float(one["price"])
    assert [a["id"] for a in one_parent["attributes"]] == [str(c) for c in sorted(one["categories"])] + [
        str(one["brand_id"])
    ]
