"""The desktop node editor (dearpygui): a view over a Graph, plus headless helpers it uses (undo, audition)."""
