"""Signature-specific processing: preprocessing (section 4.1), verifier, gallery."""
