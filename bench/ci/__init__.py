"""CI gating: rules, choosing among runs, GitHub output and the pytest plugin."""
