"""Built-in models nodes."""
