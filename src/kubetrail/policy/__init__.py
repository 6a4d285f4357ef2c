"""Audit policies: load, validate, evaluate, explain."""
