"""A clock for limits' memory storage, which reads time.time(): a test sets it and moves it."""


class Clock:
    """Stands in for the `time` module of limits' memory storage, which reads time.time().

    monkeypatch.setattr(limits.storage.memory, "time", Clock()); then set or move `now`.
    """

    now = 1_000_000.0

    def time(self):
        return self.now
