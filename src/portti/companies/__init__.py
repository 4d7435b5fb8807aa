"""Companies, accounting offices, memberships, roles and profiles, validity."""
