"""Running the service: logging and Sentry (observability), secret redaction (redact), and the
preflight checks of `bcsync doctor` (doctor)."""
