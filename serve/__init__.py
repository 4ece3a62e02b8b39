"""The cur_nlp classify service (FastAPI): ``cur_nlp_serve.app.create_app`` and ``cur_nlp_serve.app.run``."""
