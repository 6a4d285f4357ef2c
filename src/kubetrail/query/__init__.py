"""Answers from the lake: search, timeline, top, and events as sentences."""
