"""The nouns of kubetrail: pure data, no I/O, no imports from other kubetrail packages."""
