"""`prodfix demo`: a sandbox of real repositories and one fix driven through both flows."""
