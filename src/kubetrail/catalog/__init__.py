"""Bundled catalogues: attack techniques and built-in API resources."""
