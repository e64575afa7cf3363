"""/v2/store (the store profile) and /v2/time."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response

from sandbox.bigcommerce_api.http import V2, json_response
from sandbox.ratelimit import RateLimiter
from sandbox.store import Store


def store_info_blueprint(store: Store, limiter: RateLimiter) -> Blueprint:
    bp = Blueprint("store_info", __name__, url_prefix=V2)

    @bp.get("/store")
    def store_profile(store_hash: str) -> Response:
        domain = urlsplit(store.site_url).hostname or "sandbox-store.example"
        channels = store.channels()
        return json_response(
            {
                "id": store.store_hash,
                "account_uuid": "8d4d492f-17a1-4d95-b396-e1c5720815a5",
                "domain": domain,
                "secure_url": store.site_url,
                "control_panel_base_url": f"https://store-{store.store_hash}.mybigcommerce.com",
                "status": "live",
                "name": "Sandbox Store",
                "first_name": "Sam",
                "last_name": "Sandbox",
                "address": "1 Loopback Lane",
                "country": "United States",
                "country_code": "US",
                "phone": "555-0100",
                "admin_email": "admin@sandbox-store.example",
                "order_email": "orders@sandbox-store.example",
                "favicon_url": "",
                "timezone": {
                    "name": "Etc/UTC",
                    "raw_offset": 0,
                    "dst_offset": 0,
                    "dst_correction": False,
                    "date_format": {
                        "display": "M jS Y",
                        "export": "M jS Y",
                        "extended_display": "M jS Y @ g:i A",
                    },
                },
                "language": "en",
                "currency": store.currency,
                "currency_symbol": "$" if store.currency == "USD" else "",
                "decimal_separator": ".",
                "thousands_separator": ",",
                "decimal_places": 2,
                "currency_symbol_location": "left",
                "weight_units": "Ounces",
                "dimension_units": "Inches",
                "dimension_decimal_places": 2,
                "dimension_decimal_token": ".",
                "dimension_thousands_token": ",",
                "plan_name": limiter.plan.title(),
                "plan_level": limiter.plan.title(),
                "plan_is_trial": False,
                "industry": "Home & Garden",
                "logo": [],
                "is_price_entered_with_tax": False,
                "store_id": 1000001,
                "default_channel_id": 1,
                "default_site_id": 1000,
                "active_comparison_modules": [],
                "features": {
                    "stencil_enabled": True,
                    "sitewidehttps_enabled": True,
                    "facebook_catalog_id": "",
                    "checkout_type": "optimized",
                    "wishlists_enabled": False,
                    "graphql_storefront_api_enabled": True,
                    "shopper_consent_tracking_enabled": True,
                    "multi_storefront_enabled": len(channels) > 1,
                    "storefront_limits": {
                        "active": sum(c["status"] == "active" for c in channels),
                        "total_including_inactive": len(channels),
                    },
                },
            }
        )

    @bp.get("/time")
    def store_time(store_hash: str) -> Response:
        return json_response({"time": int(store.clock())})

    return bp
