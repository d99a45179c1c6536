"""The HTTP API: Marquez's ingest contract plus Ripple's impact questions."""
