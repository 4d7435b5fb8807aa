"""The OpenID Connect relying party: logging in through an identity provider.

Bank ID brokers, mobile certificate and ID-card providers (and the built-in stand-in provider)
speak the same protocol. One module per concern: ``request`` (the authorization request: PKCE,
JAR, PAR), ``client_auth`` (how Portti authenticates itself), ``completion`` (the code exchange
and the identity it yields), ``id_token``, ``userinfo``, ``jwks`` (the providers' cached keys),
``jose`` (algorithm allow-list, JWE), ``identity``, ``assurance`` (acr and freshness) and
``errors``. Import from the module that defines a name.
"""
