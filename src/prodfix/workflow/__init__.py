"""Workflow: playbooks, the reconciler, the interpreter and run state."""
