"""Children and the calls to them: child client, poller, placement, forwarding, merge."""
