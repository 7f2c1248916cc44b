"""Sites, resources, the capability taxonomy, capacity windows and capacity search."""
