"""Policy: the branch rules (docs/rules.md) as pure functions over git facts."""
