"""A connected station: its charge point actor, admission, boot, authorization, configuration, and the
routing of operators' commands to it."""
