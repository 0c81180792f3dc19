"""AWS Lambda: the control plane (functions, versions, aliases, layers, settings)."""
