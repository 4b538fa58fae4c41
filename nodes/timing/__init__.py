"""Built-in timing nodes."""
