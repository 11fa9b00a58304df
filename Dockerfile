# Signpost: a small, non-root image that serves the chatbot and its widget on port 8000.
#   docker build -t signpost .
#   docker run --rm -p 8000:8000 --read-only signpost
# Configuration is by SIGNPOST_* environment variables (docs/OPERATIONS.md).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY intents ./intents
COPY content ./content
COPY web_widget ./web_widget
# The knowledge base and widget travel inside the wheel; the redis extra lets replicas share
# rate limits when SIGNPOST_REDIS_URL is set.
RUN pip install --prefix=/install ".[redis]"

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SIGNPOST_LOG_FORMAT=json
RUN groupadd --system --gid 10001 signpost \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin signpost
COPY --from=build /install /usr/local
# Fail the build, not the first request, if the built-in content does not load.
RUN python -c "from bot.loader import load; load()"
USER 10001:10001
EXPOSE 8000 9464
HEALTHCHECK --interval=30s --timeout=3s --start-period=40s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
# One worker per container: scale with replicas. /metrics is on port 9464, not on 8000.
CMD ["signpost", "serve", "--host", "0.0.0.0", "--port", "8000"]
