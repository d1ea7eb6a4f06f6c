"""The async mode of this process, which the server running it has already chosen."""

import sys


def async_mode() -> str:
    """The async mode of the server running this process: the library that patched the standard library.

    gunicorn's eventlet and gevent workers patch it before they load the app,
    and so does `python wsgi.py` (eventlet); without either, threads.
    """
    if "gevent" in sys.modules:
        from gevent import monkey

        if monkey.is_module_patched("socket"):
            return "gevent"
    if "eventlet" in sys.modules:
        from eventlet import patcher

        if patcher.is_monkey_patched("socket"):
            return "eventlet"
    return "threading"
