"""Helpers that no part of the framework owns: timing, downloads, text files."""
