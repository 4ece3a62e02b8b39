"""Fakes the way centres fight them: a registry of debunked claims (file or database), matched by meaning with the
post's stance, beside the claim-only model. See docs/fakes.md."""
