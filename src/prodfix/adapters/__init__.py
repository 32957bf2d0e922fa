"""Adapters: git, forges, builds, GitOps edits, Argo CD, and the state store."""
