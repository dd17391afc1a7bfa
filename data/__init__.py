"""Task data files, shipped inside the package as ``tracker._data`` (see setup.py)."""
