"""Thin HTTP layer over the service."""
