"""The cur_nlp classify service (FastAPI): ``serve.app.create_app`` and ``serve.app.run``."""
