"""Simulated BigCommerce store and Ometria account, served on loopback for tests, benchmarks, `make run`.

| where                  | what                                                                         |
|------------------------|------------------------------------------------------------------------------|
| store/                 | the store's state by section (`Store`: catalogue, categories and trees,       |
|                        | brands, hooks, channels, currencies, price lists, metafields) and callbacks   |
| bigcommerce_api/       | the BigCommerce REST API over a Store: one Flask blueprint per API section    |
| ometria/               | the Ometria push API (one account)                                           |
| delivery/              | webhook delivery the way BigCommerce does it (retries, blocklist, signatures) |
| ratelimit.py, faults.py| quotas and 429s; injected faults and call counters                           |
| server.py              | `start_sandbox()` and the `sandbox` command; multi.py: several stores, one host |
| client.py              | `SandboxClient`: the control API (/_sandbox/...) over HTTP                   |
| storm.py, live.py      | webhook storms; a living store's random changes                              |
| catalog.py, bigcommerce.py | the former module names, re-exporting store/ and bigcommerce_api/        |
"""
