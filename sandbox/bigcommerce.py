"""The simulated BigCommerce API, by its former name: everything lives in `sandbox.bigcommerce_api` (one
blueprint per API section); this module keeps `from sandbox.bigcommerce import ...` working."""

from sandbox.bigcommerce_api import (
    SANDBOX_CLIENT_ID,
    create_bigcommerce_app,
    register_control_routes,
    register_hooks_for,
)
from sandbox.bigcommerce_api.http import (
    ERROR_TYPE,
    ApiError,
    endpoint_name,
    error_body,
    error_response,
    json_response,
)

__all__ = [
    "ERROR_TYPE",
    "SANDBOX_CLIENT_ID",
    "ApiError",
    "create_bigcommerce_app",
    "endpoint_name",
    "error_body",
    "error_response",
    "json_response",
    "register_control_routes",
    "register_hooks_for",
]
