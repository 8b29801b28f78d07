"""One module per command group of `waiaas`."""
