"""A clock for the limits storages, which read time.time(): a test sets it and moves it."""


class Clock:
    """Stands in for the `time` module of a limits storage (chat/state/limit_storage.py's, say).

    monkeypatch.setattr(chat.state.limit_storage, "time", Clock()); then set or move `now`.
    """

    now = 36_000_000.0  # the start of a window of 60 s, 600 s and 3,600 s: the sliding counter aligns them

    def time(self):
        return self.now
