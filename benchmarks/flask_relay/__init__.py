"""The benchmarks' second baseline: a minimal Flask-SocketIO relay (app.py), "the plain Python stack"."""
