"""Who is calling: API clients (agent and partner keys), user tokens, dashboard sign-in by
e-mail link and its sessions, and the Viewer."""
