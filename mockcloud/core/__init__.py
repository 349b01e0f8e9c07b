"""Shared machinery below every service. Never imports a service."""
