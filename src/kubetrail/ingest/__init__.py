"""Reading audit logs: input paths in, raw event lines out (:mod:`kubetrail.ingest.read`)."""
