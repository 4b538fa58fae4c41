"""Built-in text nodes."""
