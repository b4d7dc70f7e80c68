"""One APIRouter per area: session (login), pages, media, exports, admin, api."""
