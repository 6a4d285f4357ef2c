"""The other layers beside the audit log: container logs, component logs, Events."""
