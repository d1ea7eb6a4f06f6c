"""What the tests share that is not a fixture; test modules and conftests import it, never each other.

- paths.py: ROOT, the checkout
- servers.py: LiveServer (the app under `python wsgi.py` or gunicorn)
  (end_process and free_port are in scripts/stack.py)
- nginx.py: Nginx, and production_stack() (nginx with TLS -> gunicorn -> the app)
- coturn.py: Coturn (a real turnserver), and the browser tests' TURN_SECRET and TURN_TEST_CONFIG
- turn_client.py: TurnClient, a STUN/TURN client over UDP
- turn_rest_api.py: USERNAME and hmac_password, coturn's REST API credential scheme
- app_clients.py: CSRF, join, events, wait_for, for the app in this process (Flask's test clients)
- socketio_clients.py: Client, join, call_and_signal, python-socketio users of a real server
- raw_clients.py: Raw, cookie_of, event, Engine.IO spoken frame by frame
- websocket_frames.py: client_frame, WebSocket opcodes and close codes
- clock.py: Clock, a clock for limits' memory storage
- browser_steps.py: what a person does on the call page, with Playwright
- faulty_app.py: the app with failing WSGI layers, run as `python -m tests.support.faulty_app`
"""
