"""Detections: Sigma rules (parsed by pySigma) over audit events, files and the lake."""
