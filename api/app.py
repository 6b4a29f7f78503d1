"""App factory: `uvicorn --factory api.app:create_app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.console_auth import current_login
from api.deps import get_state
from api.routes import (
    admin_api,
    chat,
    chat_ws,
    console,
    console_admin,
    console_api,
    demo,
    docs,
    documents,
    health,
    live,
    sms,
    widget,
)
from api.routes import payments as payments_routes
from api.routes import unsubscribe as unsubscribe_routes
from api.routes.console_accounts import router as console_accounts_router
from api.routes.console_dashboard import router as console_dashboard_router
from api.routes.console_exports import router as console_exports_router
from api.security import BodyLimit, SecurityHeaders
from api.state import AppState
from parley.console.queue import load_queue_config
from parley.conversations.bot_client import BotClient, RasaRestClient
from parley.conversations.ordering import make_turn_locks
from parley.core.db import make_engine, make_session_factory
from parley.core.errors import ParleyError
from parley.core.limits import RateLimits
from parley.core.settings import Settings, get_settings
from parley.jobs.runner import JobRunner


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # A mistake in config/queue.yml stops the API here, with the file, key and reason.
    load_queue_config(settings.queue_config_path)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        sessions = make_session_factory(engine)
        bot: BotClient
        if settings.bot_engine == "in_process":
            # imported here: numpy and scikit-learn load only in a gateway that scores itself
            from parley.conversations.in_process import InProcessBot

            bot = InProcessBot.from_settings(sessions, settings)
        else:
            bot = RasaRestClient(
                settings.rasa_urls,
                timeout=settings.rasa_timeout_seconds,
                token=settings.rasa_token,
                cooldown=settings.rasa_cooldown_seconds,
            )
        locks = make_turn_locks(
            settings.redis_url, settings.turn_lock_seconds, settings.turn_wait_seconds
        )
        app.state.parley = AppState(
            settings=settings,
            engine=engine,
            sessions=sessions,
            bot=bot,
            locks=locks,
            limits=RateLimits(settings.redis_url),
        )
        # Timed work belongs to `parley worker`. For local development only, the API may run
        # the same engine in a thread (PARLEY_JOBS_INTERVAL_SECONDS > 0); never in production,
        # where every API replica would otherwise run it too.
        jobs = (
            JobRunner(sessions, settings, settings.jobs_interval_seconds)
            if settings.jobs_interval_seconds > 0 and settings.env != "production"
            else None
        )
        if jobs is not None:
            jobs.start()
        try:
            yield
        finally:
            if jobs is not None:
                jobs.stop()
            await bot.close()
            await locks.close()
            engine.dispose()

    # /api/docs is served by api.routes.docs (Swagger UI from the pinned package, no CDN).
    app = FastAPI(title="Parley", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes
    )
    app.add_middleware(SecurityHeaders, https=settings.public_url.lower().startswith("https://"))
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.widget_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
    )

    @app.exception_handler(ParleyError)
    async def _parley_error(request: Request, exc: ParleyError) -> Response:
        """The one handler for every expected failure: the console's pages get the console's
        error page, everything else a JSON error with the code and message."""
        if request.url.path.startswith("/console"):
            login = await current_login(request, get_state(request))
            return console.error_page(request, login, exc)
        return JSONResponse(
            {"error": {"code": exc.code, "message": exc.message}}, status_code=exc.status_code
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Framework errors (unknown path, wrong method, body too large) in the same shape."""
        codes = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
        return JSONResponse(
            {"error": {"code": codes.get(exc.status_code, "http_error"), "message": exc.detail}},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"][1:]), "message": e["msg"]}
            for e in exc.errors()
        ]
        return JSONResponse(
            {
                "error": {
                    "code": "invalid_request",
                    "message": "Invalid request.",
                    "details": problems,
                }
            },
            status_code=422,
        )

    app.include_router(health.router)
    app.include_router(chat.router)
    app.include_router(demo.router)
    app.include_router(live.router)
    app.include_router(sms.router)
    app.include_router(unsubscribe_routes.router)
    app.include_router(console.router)
    app.include_router(console_dashboard_router)
    app.include_router(console_accounts_router)
    app.include_router(console_exports_router)
    app.include_router(console_admin.router)
    app.include_router(console_api.router)
    app.include_router(admin_api.router)
    app.include_router(payments_routes.router)
    app.include_router(documents.router)
    app.include_router(chat_ws.router)
    app.include_router(widget.router)
    app.include_router(docs.router)
    app.include_router(docs.redoc_router)
    return app
