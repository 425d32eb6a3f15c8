"""The audit trail: who changed what, through the console, the operator API or a command."""
