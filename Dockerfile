# mockcloud's container image: `mockcloud server` on 0.0.0.0:4566, as a user without privileges.
#
#   docker build -t mockcloud .                       # from a checkout, on python:3.12-slim
#   docker run --rm -p 4566:4566 mockcloud [SERVER OPTIONS...]
#
# BASE is any Debian-like image with python3 and its venv module (the tests build on a base made with
# debootstrap). Offline, from a wheelhouse in the build context:
#   --build-arg PACKAGE='mockcloud[redis]' --build-arg PIP_OPTIONS='--no-index --find-links=/src/wheels'
# The classic builder builds it too (no BuildKit-only syntax).
ARG BASE=python:3.12-slim

FROM ${BASE} AS build
ARG PACKAGE=/src[redis]
ARG PIP_OPTIONS=
COPY . /src
# One virtualenv, then everything not needed at run time out of it: pip and setuptools, caches, and the
# bytecode compiled now (at run time the user may not write there, and compiling costs start-up time).
RUN python3 -m venv /opt/mockcloud \
 && /opt/mockcloud/bin/python -m pip install --no-cache-dir --no-compile --disable-pip-version-check \
        $PIP_OPTIONS "$PACKAGE" \
 && /opt/mockcloud/bin/python -m pip uninstall --yes --quiet --disable-pip-version-check pip setuptools wheel \
 && rm -rf /opt/mockcloud/bin/pip* /opt/mockcloud/bin/activate* /opt/mockcloud/bin/Activate.ps1 \
 && find /opt/mockcloud -depth \( -name tests -o -name __pycache__ -o -name '*.pyi' \) \
        -path '*/site-packages/*' -exec rm -rf {} + \
 && /opt/mockcloud/bin/python -m compileall -q -j 0 /opt/mockcloud/lib \
 && mkdir -p /data

FROM ${BASE}
COPY --from=build /opt/mockcloud /opt/mockcloud
COPY --from=build --chown=10001:10001 /data /data
# Every server option can come from the environment ($MOCKCLOUD_<OPTION>), so a compose file or a CI
# service sets them without repeating the command: MOCKCLOUD_STATE=/data/state.db, MOCKCLOUD_STORE,
# MOCKCLOUD_WORKERS, MOCKCLOUD_ALLOW_HOST, MOCKCLOUD_ADMIN_TOKEN (else one is made and printed) ...
ENV PATH=/opt/mockcloud/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MOCKCLOUD_HOST=0.0.0.0 \
    MOCKCLOUD_PORT=4566
USER 10001:10001
WORKDIR /data
VOLUME /data
EXPOSE 4566
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 CMD ["python", "-c", "import http.client as h, os; c = h.HTTPConnection('127.0.0.1', int(os.environ.get('MOCKCLOUD_PORT', '4566')), timeout=2); c.request('GET', '/_mockcloud/health'); raise SystemExit(c.getresponse().status != 200)"]
ENTRYPOINT ["mockcloud", "server"]
