"""The use cases built on the domain, the clients and the store: flushing dirty products to Ometria
(flush), reading Ometria back for drift (verify), registering and reviving webhooks (hooks)."""
