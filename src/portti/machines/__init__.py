"""Machine clients (PRV-1): business software that registers with Support and acts on its own
behalf through the OAuth 2.0 client credentials grant, on the companies it may reach."""
