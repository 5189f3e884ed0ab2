# autoheal's container image. Two stages: the package is installed into a virtual environment
# in the first, and only that environment is copied onto a clean base in the second, so no
# build tools reach the final image.
#
#   docker build -t autoheal .
#   docker build --build-arg PYTHON_IMAGE=my/python:3.11 -t autoheal .   # another base
#
# PYTHON_IMAGE must be a Debian-like image with python3 (3.11+) and its venv module; both
# stages use it, so the environment's interpreter is the one it was built with.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# pip's own 15 s read timeout is short for a loaded machine or a slow mirror.
ARG PIP_DEFAULT_TIMEOUT=60
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/autoheal
WORKDIR /src
COPY build-constraints.txt pyproject.toml README.md ./
COPY src ./src
# build-constraints.txt caps the setuptools that pip builds XStatic-Bootstrap's source archive
# with (its setup.py still imports pkg_resources, gone in setuptools 81).
# The bytecode pip compiled stays: the unprivileged user could not write it at run time.
RUN PIP_CONSTRAINT=/src/build-constraints.txt /opt/autoheal/bin/pip install /src \
 && /opt/autoheal/bin/pip uninstall -y -q setuptools pip

FROM ${PYTHON_IMAGE}
# autoheal=false: autoheal never heals itself, and this label says so to any other healer too.
LABEL autoheal=false \
      org.opencontainers.image.title="autoheal" \
      org.opencontainers.image.description="Keeps Docker containers alive: heals crashed or unhealthy containers."
RUN useradd --system --uid 10001 --user-group --home-dir /nonexistent --shell /usr/sbin/nologin autoheal \
 && mkdir -p /data && chown autoheal:autoheal /data
COPY --from=build /opt/autoheal /opt/autoheal
COPY deploy/docker-entrypoint.sh /usr/local/bin/autoheal-entrypoint
ENV PATH=/opt/autoheal/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    AUTOHEAL_HOST=0.0.0.0 \
    AUTOHEAL_PORT=8080 \
    AUTOHEAL_METRICS_PORT=9090 \
    AUTOHEAL_DATA_DIR=/data
VOLUME /data
EXPOSE 8080 9090
# /health answers 200 when autoheal can heal (engine connected, event stream live, loops running).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import os, sys, urllib.request\ntry:\n    r = urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('AUTOHEAL_PORT', '8080'), timeout=4)\nexcept Exception as exc:\n    sys.exit('unhealthy: %s' % exc)\nsys.exit(0 if r.status == 200 else 1)"]
# autoheal exits 0 on SIGTERM after a graceful shutdown of at most a few seconds, well within
# docker stop's default 10 s. The entrypoint execs it, so it is PID 1 and gets the signal.
STOPSIGNAL SIGTERM
ENTRYPOINT ["autoheal-entrypoint", "autoheal"]
CMD ["serve"]
