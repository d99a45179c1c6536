# Ripple's API server. Build: docker build -t ripple-lineage . (docker-compose.yml does it for you).
FROM python:3.11.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/ripple ripple \
    && mkdir /data \
    && chown ripple:ripple /data

WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY ripple ./ripple
# requirements.lock pins every version the project is tested with; -c applies it as constraints.
RUN pip install -c requirements.lock . \
    && rm -rf /src/build /src/*.egg-info

WORKDIR /data
USER ripple
VOLUME ["/data"]
EXPOSE 5000

HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/api/v1/health', timeout=4)"]

# Listening on 0.0.0.0, Ripple refuses to start until an API token exists (anyone reaching the port
# could otherwise post events and run backfills). Make one first, on the same volume or database:
#   docker run --rm -v ripple-data:/data ripple-lineage ripple token create admin --role admin --data-dir /data
# Set RIPPLE_ALLOWED_HOSTS to the names clients use to reach it (loopback names by default).
CMD ["ripple", "serve", "--host", "0.0.0.0", "--port", "5000", "--data-dir", "/data"]
