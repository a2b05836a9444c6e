# One image for the producer (scrapy crawl quotes) and the consumer
# (quotes-consumer); streamctl is on PATH too.
#
# The base image is a build argument, so that a machine without access to a
# registry can build on a local one (the compose test does).
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SCRAPY_SETTINGS_MODULE=producer.settings

WORKDIR /app

# Dependencies first, at the exact versions and hashes of the lock file
# (`make lock`), so that a change to the source does not reinstall them.
COPY requirements/image.lock ./requirements/
RUN pip install --require-hashes --no-deps -r requirements/image.lock

# Then the source, with the locked build backend (nothing unpinned is fetched).
COPY pyproject.toml README.md scrapy.cfg ./
COPY streamlib ./streamlib
COPY producer ./producer
COPY consumer ./consumer
RUN pip install --no-deps --no-build-isolation . \
 && rm -rf build quotestream.egg-info \
 && useradd --create-home --uid 10001 quotestream \
 && install -d -o quotestream -g quotestream /var/lib/quotestream

# /var/lib/quotestream: where the image's user may write (a volume mounted
# there is the user's too).
USER quotestream
CMD ["quotes-consumer"]
