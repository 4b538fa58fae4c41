"""Built-in dsp nodes."""
