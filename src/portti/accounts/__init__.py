"""Accounts: e-mail + password + TOTP login accounts, and acceptance of the terms."""
