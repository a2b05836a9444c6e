# One image for the producer (scrapy crawl quotes) and the consumer
# (quotes-consumer); streamctl is on PATH too.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SCRAPY_SETTINGS_MODULE=producer.settings

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so that a change to the
# source does not reinstall them (the layer stays cached).
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
extras = p['optional-dependencies']; \
print('\n'.join(p['dependencies'] + extras['fast'] + extras['postgres'] + extras['metrics']))" \
    > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt

# Then the source, installed without touching the dependencies.
COPY README.md scrapy.cfg ./
COPY streamlib ./streamlib
COPY producer ./producer
COPY consumer ./consumer
RUN pip install --no-deps . \
 && useradd --create-home --uid 10001 quotestream

USER quotestream
CMD ["quotes-consumer"]
