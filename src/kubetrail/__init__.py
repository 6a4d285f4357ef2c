"""kubetrail: Kubernetes API-server audit logging a security team can trust.

The library never prints or exits; the CLI (:mod:`kubetrail.cli`) is a thin shell over it.
Heavy dependencies are imported lazily so that ``kubetrail policy ...`` starts fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
