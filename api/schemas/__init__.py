"""Response models: what the JSON API shows of the core's objects (field by field, so nothing
is exposed by accident)."""
