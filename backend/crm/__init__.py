"""The sales world the agent acts in: contacts, deals, conversations and their messages."""
