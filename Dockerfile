# cur_nlp classify service, CPU only.
#   docker build -t cur-nlp .
#   docker run --rm -p 8000:8000 -e CUR_NLP_API_KEYS=change-me cur-nlp
# The image serves the model in models/default (copied at build time); mount another one and set CUR_NLP_MODEL
# to serve it instead. Settings: CUR_NLP_* environment variables (see docs/serve.md).
FROM python:3.11-slim

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

# CPU torch first, from the CPU index, so that installing the package does not pull CUDA wheels.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

COPY pyproject.toml README.md ./
COPY cur_nlp ./cur_nlp
COPY serve ./serve
# the distribution also carries the training package (cur_nlp_training); its code is small, its data stays out
COPY training ./training
RUN pip install ".[serve]"

COPY models/default ./models/default

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin cur_nlp
USER cur_nlp
# build the geonames index once, in the image (~/.cache/cur_nlp), so that containers start in seconds
RUN python -c "from cur_nlp.geo import Locator; Locator.default()('Курск')"

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD python -c "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('CUR_NLP_PORT', '8000'), timeout=4).status == 200 else 1)"

CMD ["cur-nlp", "serve"]
