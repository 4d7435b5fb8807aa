"""Strong authentication: OIDC identity providers (bank ID, ID cards), step-up, the built-in stand-in provider."""
