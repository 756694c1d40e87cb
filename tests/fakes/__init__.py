"""Local stand-ins for the providers' APIs, speaking their formats."""
