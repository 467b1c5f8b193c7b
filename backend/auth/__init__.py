"""Who is calling: API clients (agent and partner keys), user tokens and the Viewer."""
