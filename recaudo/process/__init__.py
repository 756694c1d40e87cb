"""What a long-running recaudo process sets up: lifecycles and garbage-collector tuning."""
