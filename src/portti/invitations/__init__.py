"""Invitations to the app: sign-up codes by e-mail, confirmation codes by SMS or from an admin."""
