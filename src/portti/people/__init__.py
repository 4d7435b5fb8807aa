"""People: persons, Portti IDs, identifiers and contact details."""
