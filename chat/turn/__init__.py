"""TURN: the ICE servers a user gets (credentials.py), and coturn's config to match (coturn_config.py)."""
