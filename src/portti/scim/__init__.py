"""SCIM 2.0 service provider (RFC 7643, RFC 7644): a company's users and roles kept in step by
the business software's identity provider (Entra ID, Okta) through a machine client (PRV-3)."""
