"""Helpers shared by the tests: builders of tiny models, planted models, stores and curves.

Import them as ``from tests.support.<module> import ...``; test modules never import each
other or a conftest.py (fixtures stay in conftest.py files, where pytest finds them).
"""
