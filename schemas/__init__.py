"""JSON schemas, shipped inside the package as ``tracker._schemas`` (see setup.py)."""
