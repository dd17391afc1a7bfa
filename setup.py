"""What goes into the wheel; everything else about the project is in pyproject.toml.

The repository keeps ``data/`` and ``schemas/`` at its top level (the card layout names them
there), yet the installed package must carry them: they are mapped into the package as
``tracker._data`` and ``tracker._schemas`` and read through ``importlib.resources``
(:mod:`tracker.datafiles`). Mapping folders outside ``tracker/`` needs a package list computed
here, which ``pyproject.toml`` cannot express next to automatic discovery.
"""

from setuptools import find_namespace_packages, find_packages, setup

# Each data folder (and every subfolder, e.g. data/tasks) becomes a package of package data.
DATA_FOLDERS = {"tracker._data": "data", "tracker._schemas": "schemas"}
DATA_PACKAGES = [
    f"{name}.{sub}" if sub else name
    for name, folder in DATA_FOLDERS.items()
    for sub in ["", *find_namespace_packages(where=folder, exclude=["*__pycache__*"])]
]

setup(
    packages=[*find_packages(include=["tracker", "tracker.*"]), *DATA_PACKAGES],
    package_dir=DATA_FOLDERS,
    package_data={"tracker": ["py.typed"], **{name: ["*.json"] for name in DATA_PACKAGES}},
)
