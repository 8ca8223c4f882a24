# The image for docker-compose.yml's start, worker and dashboard services.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY tuner ./tuner
RUN pip install .
COPY tuner/examples ./studies
RUN useradd --create-home tuner && mkdir -p /app/data && chown tuner /app
USER tuner
CMD ["tuner", "--help"]
