"""Orders and their operations (routings)."""
