"""The web UI on the lake (kubetrail ui)."""
