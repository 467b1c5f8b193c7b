"""Raw events about what happened after an action: e-mail, CRM and meeting signals."""
