"""prodfix: production fixes from delivery branches, checked, resumable and observable."""

__version__ = "0.1.0"
