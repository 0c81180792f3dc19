"""Storage backends. Services talk only to the interface in ``storage.base``."""
