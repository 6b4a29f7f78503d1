# The application image: API gateway and action server (parley, api, actions).
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
RUN uv pip install --no-deps . && useradd --system --uid 10001 parley
USER parley
EXPOSE 8000 5055
CMD ["uvicorn", "--factory", "api.app:create_app", "--host", "0.0.0.0", "--port", "8000"]
