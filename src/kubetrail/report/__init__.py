"""Reports people look at: the single-file HTML report (kubetrail report)."""
