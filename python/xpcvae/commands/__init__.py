"""CLI sub-commands, one module per layer."""
