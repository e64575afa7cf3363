"""Simulated BigCommerce store and Ometria account, served on loopback for tests, benchmarks, `make run`."""
