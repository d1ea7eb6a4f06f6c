"""Extensions, created unbound and bound to the app in create_app()."""

from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """The durable records' declarative base (chat/records/models.py)."""


socketio = SocketIO()
db = SQLAlchemy(model_class=Base)
migrate = Migrate()
