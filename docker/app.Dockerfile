# The application image: API gateway, action server and worker (parley, api, actions).
# docker-compose.yml mounts the host's config/ over /srv/parley/config (policies).
FROM python:3.10-slim AS app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir uv==0.13.9 && uv venv /opt/venv
WORKDIR /srv/parley
COPY requirements/app.lock requirements/app.lock
RUN uv pip sync requirements/app.lock
COPY pyproject.toml README.md alembic.ini ./
COPY parley parley
COPY api api
COPY actions actions
COPY migrations migrations
COPY config config
# Editable: the code runs from /srv/parley, where it finds migrations/ (parley db upgrade),
# the console templates (api/templates/console/, which package-data does not ship) and
# config/. A plain install would put only the Python packages in site-packages.
RUN uv pip install --no-deps -e . && useradd --system --uid 10001 parley
USER parley
EXPOSE 8000 5055
CMD ["uvicorn", "--factory", "api.app:create_app", "--host", "0.0.0.0", "--port", "8000"]
