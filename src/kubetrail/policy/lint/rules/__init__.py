"""One module per lint rule; each module defines one :class:`LintRule` subclass."""
