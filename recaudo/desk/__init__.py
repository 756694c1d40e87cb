"""The agent desk: the open agent tasks, and what a person does about one
(reply, record an outcome, close), as records on the same topics as
everything else."""
