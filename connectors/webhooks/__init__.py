"""The inbound webhook service: provider delivery receipts and inbound
messages, verified and turned into channel responses."""
