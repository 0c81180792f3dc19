"""The web console at ``/_postroom/console``: static assets and the JSON API they call."""
