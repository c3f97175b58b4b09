# policybot on the embedded default: SQLite, local FAISS, the bundled e5 model; with
# POLICYBOT_DATABASE_URL and POLICYBOT_REDIS_URL set, on PostgreSQL and Redis (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    POLICYBOT_DATA_DIR=/data

WORKDIR /app
# LightGBM (the learned refusal model and ranker) needs the GNU OpenMP runtime.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY ingest ingest
COPY knowledge knowledge
COPY bot bot
COPY api api
COPY samples samples
RUN pip install --no-cache-dir .

# Load the sample corpus into the image's data directory on first start; a
# mounted /data keeps the knowledge base across container restarts.
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
ENV POLICYBOT_WORKERS=1
CMD ["sh", "-c", "policybot ingest samples && policybot serve --host 0.0.0.0 --port 8000 --workers $POLICYBOT_WORKERS"]
