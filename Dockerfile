# syntax=docker/dockerfile:1
#
# imagine-bot. Build: docker build -t imagine-bot .   Run: see README ("Docker quick start").
#
# Two stages: the first builds a virtual environment with the bot and its dependencies,
# the second copies only that environment onto a clean slim base, so the image carries no
# build tools, pip cache or source tree.
#
# Reproducible: the dependencies come from requirements.lock, every version pinned and
# every file checked against its hash (pip --require-hashes), so two builds of the same
# commit install the same bytes. The base is pinned to a patch release; its digest is not
# pinned here because it could not be looked up from where this file was written: to pin
# it, `docker buildx imagetools inspect python:3.11.14-slim-bookworm` and append
# @sha256:<digest> below (or pass --build-arg PYTHON_IMAGE=…@sha256:…).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/imagine-bot/bin:$PATH
RUN python -m venv /opt/imagine-bot
WORKDIR /src
# Dependencies get their own layer, rebuilt only when the lock file changes.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml setup.py README.md LICENSE ./
COPY bot ./bot
COPY cogs ./cogs
# The bot itself, without touching the locked dependencies; its build (setup.py) compiles
# the gettext catalogs. Fail the build, not the first start, if the package lost a module
# or its migrations, a catalog was not compiled, or pip sees a missing dependency
# (pyproject.toml gained one the lock lacks). (-I: import the installed copy, not ./bot.)
# DL3013: this installs the project itself; its dependencies are pinned in the lock.
# hadolint ignore=DL3013
RUN pip install --no-deps . \
 && pip check \
 && python -I -c "import bot.__main__, cogs.imagine" \
 && python -I -c "from bot.store.migrate import SQLITE_MIGRATIONS_DIR as d; assert any(d.glob('*.sql'))" \
 && python -I -c "from bot.i18n import LOCALES_DIR as d; assert all(p.with_suffix('.mo').is_file() for p in d.glob('*/*/*.po'))"

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="imagine-bot" \
      org.opencontainers.image.description="Self-hostable Discord bot: /imagine with FLUX.1 SRPO" \
      org.opencontainers.image.licenses="MIT"
# DATABASE_URL: the SQLite file lives in the /data volume. HEALTH_FILE: the running bot
# refreshes it every 15 s and HEALTHCHECK reads it, so health needs no open port.
# METRICS_HOST: inside a container, loopback is unreachable from the host, so a published
# METRICS_PORT listens on every interface of the container (publish it on 127.0.0.1).
# MPLCONFIGDIR: matplotlib (the /quota stats chart) caches its font list there; /app is
# not writable by the bot's user, and without a writable place it rebuilds it every time.
ENV PATH=/opt/imagine-bot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATABASE_URL=sqlite:////data/imagine.db \
    HEALTH_FILE=/tmp/imagine-bot.health \
    METRICS_HOST=0.0.0.0 \
    MPLCONFIGDIR=/tmp/matplotlib
# A fixed uid/gid so a bind-mounted /data can be chown'ed to match (chown 10001:10001).
# /app/data points at /data, so a relative sqlite:///data/… URL from .env lands in the
# volume too instead of in the container's throw-away layer.
RUN groupadd --system --gid 10001 imagine \
 && useradd --system --uid 10001 --gid imagine --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin imagine \
 && mkdir -p /data /app \
 && chown imagine:imagine /data \
 && ln -s /data /app/data
COPY --from=build /opt/imagine-bot /opt/imagine-bot
WORKDIR /app
USER 10001:10001
VOLUME ["/data"]
# Unhealthy = not connected to Discord, database unusable, or the bot stopped refreshing
# its health file (hung). The start period covers connecting and syncing commands.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["imagine-bot", "health"]
# `docker run … imagine-bot check` / `invite` run the owner commands instead of the bot.
ENTRYPOINT ["imagine-bot"]
CMD ["run"]
