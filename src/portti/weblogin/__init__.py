"""Web login: browser sessions, company choice, QR login transactions and server push."""
