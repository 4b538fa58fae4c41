"""Built-in speech nodes."""
