"""The admin blueprint (/admin, its templates beside this module) and the fixed texts of its page."""

from __future__ import annotations

from flask import Blueprint

admin_bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

COOKIE = "bcsync_admin"
SESSION_SECONDS = 12 * 3600
MAX_IDS = 10_000
PAGE_FAILED_LIMIT = 200
NOTICES = {
    "replayed": "Replayed {n} entr{ies}; the products are dirty again and a flush is on its way.",
    "discarded": "Discarded {n} entr{ies}.",
    "nothing": "Nothing to do: that entry is no longer open.",
    "resync": "Marked {n} {what} dirty; a flush is on its way.",
    "resync-all": "Full resync enqueued{dry}; the worker runs it "
    "(a dry run's report goes to the worker log).",
    "loggedout": "Logged out.",
}
ERRORS = {
    "ids": "Give one or more positive ids, separated by spaces or commas.",
    "kind": "Choose products, categories or the whole store.",
    "store": "Choose a configured store.",
    "broker": "Could not reach the broker to enqueue the resync; try again or use `bcsync resync all`.",
}
