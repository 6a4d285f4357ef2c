"""Sample audit traffic for users who have no capture yet (``kubetrail sample generate``)."""
