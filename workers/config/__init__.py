"""The parts of `workers.settings`, which re-exports every public name: value parsers (`types`),
the typed environment (`environment`), a store's configuration (`stores`)."""
