"""Console pages, one module per page; each exports ``routes()`` (paths under /console)."""
