"""POST /webhooks/bigcommerce: the view (views), authentication (auth), validation of a callback into
a change (callbacks), and the group commit that records it durably (recording, group_commit)."""
