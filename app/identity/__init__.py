"""Users, roles, API tokens and the authenticated principal."""
