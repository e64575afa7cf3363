"""The pure core: Ometria records from BigCommerce products, fingerprints, and what a failure means.

No HTTP, no database, no settings: plain data in, plain data out (tested with plain data).
"""
