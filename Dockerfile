# syntax=docker/dockerfile:1
# Two stages: build a wheel with the toolchain, run it on a slim base as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN python -m pip wheel --wheel-dir /wheels ".[postgres]"

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_URL=sqlite:////data/imagine.db
RUN useradd --create-home --uid 10001 imagine \
 && mkdir -p /data && chown imagine:imagine /data
COPY --from=build /wheels /wheels
RUN python -m pip install --no-index --find-links=/wheels imagine-bot[postgres] \
 && rm -rf /wheels
USER imagine
WORKDIR /home/imagine
VOLUME ["/data"]
CMD ["imagine-bot"]
