"""What a long-running recaudo process sets up: lifecycles, HTTP services, secret keys."""
