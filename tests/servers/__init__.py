"""Local servers that speak real wire protocols, shared by every provider's end-to-end tests."""
