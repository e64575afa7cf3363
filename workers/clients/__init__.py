"""The two HTTP clients (BigCommerce, Ometria), the request helper they share and their rate budgets:
the only code that knows URLs, headers, pagination and rate limits."""
