"""GitOps: image-tag edits in Kubernetes YAML without reformatting."""
