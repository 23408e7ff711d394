"""What an Azure identity may do, from the typed view alone (pure: no evidence files, no SDK): the
built-in role catalogue, federated-credential trust, and each role assignment judged."""
