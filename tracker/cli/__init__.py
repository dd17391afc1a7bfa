"""Command-line interface (``tracker``)."""
