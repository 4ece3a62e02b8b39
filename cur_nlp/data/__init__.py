"""Package data: label definitions and example registries."""
