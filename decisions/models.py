"""Decision requests, sign-offs and the decision log (built on the governance model)."""
