"""The learned contact choice, pure: actions the policy allows, context
features, a Vowpal Wabbit contextual bandit, rewards joined to decisions and
off-policy evaluation. No Kafka; docs/learning.md tells what is built."""
