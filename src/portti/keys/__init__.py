"""Portti's own asymmetric keys: signing and encryption keys kept in the database, rotated."""
