"""Policy: the rules of WORKFLOW.md as pure functions over git facts."""
