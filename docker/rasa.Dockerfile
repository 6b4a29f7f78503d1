# The Rasa server image: rasa==3.6.21 alone, with the model trained at build time.
FROM python:3.10-slim AS rasa
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH \
    RASA_TELEMETRY_ENABLED=false PYTHONPATH=/srv/bot
RUN pip install --no-cache-dir uv==0.13.9 && uv venv /opt/venv
WORKDIR /srv/bot
COPY requirements/rasa.lock requirements/rasa.lock
RUN uv pip sync requirements/rasa.lock
COPY bot bot
# the intent model is plain scikit-learn shared with the gateway (parley/nlu imports nothing else)
COPY parley/__init__.py parley/__init__.py
COPY parley/nlu parley/nlu
COPY data data
RUN rasa train --domain bot/domain --config bot/config.yml --data data --out models \
      --fixed-model-name parley \
    && useradd --system --uid 10001 rasa && chown -R rasa /srv/bot
USER rasa
EXPOSE 5005
CMD ["rasa", "run", "--model", "models/parley.tar.gz", "--endpoints", "bot/endpoints.production.yml", \
     "--credentials", "bot/credentials.yml", "--interface", "0.0.0.0", "--port", "5005"]
