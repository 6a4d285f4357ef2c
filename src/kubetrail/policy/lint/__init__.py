"""``kubetrail policy lint``: the mistakes real audit policies make, with stable codes."""
