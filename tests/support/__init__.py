"""Test helpers: factories and a browser-like way to log in and step up."""
