# A slim image that serves Musrenbang against the PostgreSQL server at MUSRENBANG_DATABASE_URL.
#   docker build -t musrenbang .
#   docker run -e MUSRENBANG_DATABASE_URL=postgresql://user:pass@db:5432/musrenbang -p 8000:8000 musrenbang
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY musrenbang ./musrenbang
COPY web ./web
COPY migrations ./migrations
RUN pip install -c constraints.txt . && rm -rf /src

RUN useradd --create-home --uid 10001 musrenbang
USER musrenbang
WORKDIR /home/musrenbang

# Listen on all interfaces inside the container; the database comes from MUSRENBANG_DATABASE_URL
# (without it, serve would start the bundled server inside the container, which is for laptops).
ENV MUSRENBANG_HOST=0.0.0.0 \
    MUSRENBANG_PORT=8000 \
    MUSRENBANG_WORKERS=2
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=4).status != 200)"

CMD ["musrenbang", "serve"]
