# cur_nlp classify service, CPU only.
#   docker build -t cur-nlp .
#   docker run --rm -p 8000:8000 -e CUR_NLP_API_KEYS=change-me cur-nlp
# The image serves the model in models/default (copied at build time); mount another one and set CUR_NLP_MODEL
# to serve it instead. Settings: CUR_NLP_* environment variables (see docs/serve.md).
#
# Base image: pin it by digest for reproducible builds, e.g.
#   docker build --build-arg PYTHON_IMAGE=python:3.11-slim@sha256:<digest> -t cur-nlp .
# with the digest from `docker buildx imagetools inspect python:3.11-slim`. The tag is not pinned here because the
# machine this file was written on reaches no container registry, so the real digest could not be read, and a
# digest that was not read is worse than none.
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    CUR_NLP_HOST=0.0.0.0 \
    CUR_NLP_PORT=8000 \
    CUR_NLP_MODEL=/app/models/default

WORKDIR /app

# Every dependency from the lock file, each pinned with its hashes (`make lock`: uv pip compile of the serve
# extras for Python 3.11 on x86-64 Linux); torch is its CPU build, from the CPU index, so no CUDA wheel is pulled.
COPY requirements/serve.lock ./requirements/serve.lock
RUN pip install --require-hashes --no-deps --extra-index-url https://download.pytorch.org/whl/cpu \
        -r requirements/serve.lock

COPY pyproject.toml README.md ./
COPY cur_nlp ./cur_nlp
COPY serve ./serve
# the distribution also carries the training package (cur_nlp_training); its code is small, its data stays out
COPY training ./training
# the project itself, built with the locked setuptools; its dependencies are all in place from the lock
RUN pip install --no-deps --no-build-isolation ".[serve,postgres]"

COPY models/default ./models/default

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin cur_nlp
USER cur_nlp
# build the geonames index once, in the image (~/.cache/cur_nlp), so that containers start in seconds
RUN python -c "from cur_nlp.geo import Locator; Locator.default()('Курск')"

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD python -c "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('CUR_NLP_PORT', '8000'), timeout=4).status == 200 else 1)"

CMD ["cur-nlp", "serve"]
