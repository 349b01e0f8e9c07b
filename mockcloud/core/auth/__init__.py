"""Signature schemes the emulated front doors verify."""
