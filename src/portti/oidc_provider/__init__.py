"""Portti as an OpenID Provider: business software logs its users in through Portti.

Clients (relying parties) are registered by Support; a person logs in on Portti's own login page
(QR with the app, bank ID, ID cards), picks a company if the client asks for one, and the client
receives an ID token whose claims carry the company and roles Portti administers."""
