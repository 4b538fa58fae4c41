"""Built-in io nodes."""
