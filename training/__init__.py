"""Training, data preparation and evaluation for cur_nlp (not imported by the runtime library)."""
