"""Test helpers that are not fixtures, imported as ``from tests.helpers.<module> import ...``."""
