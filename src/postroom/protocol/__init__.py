"""Wire protocols: decode AWS requests into plain dicts and encode results, driven by
botocore's service models so every service shares one implementation."""
