"""Event source mappings at work: pollers read a source through its service's api.py and
invoke functions through lambda_'s api.py."""
