"""Languages of the pages: message catalogs (gettext, compiled by Babel), the language a request
gets (the switch's cookie, else the browser's Accept-Language), and numbers, money and dates
formatted per locale.

Catalogs live in `web/locale/<locale>/LC_MESSAGES/messages.po` with their compiled `.mo`;
`pybabel extract -F src/sharefab/web/babel.cfg` collects the strings of templates and pages.
"""

from __future__ import annotations

import datetime as dt
import gettext as gettext_module
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, dates, numbers
from babel.support import Translations
from fastapi import Request
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

LOCALE_DIR = Path(__file__).parent / "locale"
LANG_COOKIE = "sharefab_lang"
DEFAULT_LOCALE = "en"
LOCALES: dict[str, str] = {"en": "English", "zh_Hans": "简体中文"}
# Times are shown in the clusters' time zone; forms read times in it too.
DISPLAY_TZ = ZoneInfo("Asia/Shanghai")


def N_(message: str) -> str:  # noqa: N802 (the gettext convention)
    """Mark a string for the catalog without translating it here (it is translated where
    shown)."""
    return message


STATUS_LABELS: dict[str, str] = {
    "draft": N_("Draft"),
    "quoted": N_("Quoted"),
    "accepted": N_("Accepted"),
    "scheduled": N_("Scheduled"),
    "in_production": N_("In production"),
    "completed": N_("Completed"),
    "delivered": N_("Delivered"),
    "closed": N_("Closed"),
    "cancelled": N_("Cancelled"),
    "disputed": N_("Disputed"),
    "tentative": N_("Tentative"),
    "committed": N_("Booked"),
    "in_progress": N_("In progress"),
    "done": N_("Done"),
    "open": N_("Open"),
    "superseded": N_("Superseded"),
    "expired": N_("Expired"),
    "fastest": N_("Fastest"),
    "cheapest": N_("Cheapest"),
    "balanced": N_("Balanced"),
    "fund_escrow": N_("Paid into escrow"),
    "release": N_("Paid to provider"),
    "refund": N_("Refund"),
    "settle": N_("Settlement"),
    "buyer_funds": N_("Buyer funds"),
    "provider_earnings": N_("Provider earnings"),
    "escrow": N_("Escrow"),
    "platform_fees": N_("Platform fees"),
    "on_time": N_("On time"),
    "quality": N_("Quality"),
    "rating": N_("Ratings"),
    "disputes": N_("Few disputes"),
    "response": N_("Response time"),
    "payment": N_("Pays on time"),
    "commitment": N_("Keeps orders"),
    "machine": N_("Machine"),
    "line": N_("Production line"),
    "tool": N_("Tool"),
    "instrument": N_("Instrument"),
    "vehicle": N_("Vehicle"),
    "service_team": N_("Service team"),
}


@lru_cache(maxsize=8)
def translations(locale: str) -> gettext_module.NullTranslations:
    """The compiled catalog of `locale` (English needs none: the source strings are English)."""
    if locale == DEFAULT_LOCALE:
        return gettext_module.NullTranslations()
    return Translations.load(str(LOCALE_DIR), [locale], domain="messages")


def _from_tag(tag: str) -> str | None:
    tag = tag.strip().lower().replace("_", "-")
    if tag.startswith("zh"):
        # Traditional-script tags (zh-TW, zh-HK, zh-Hant) still read Simplified better than
        # English for most of the clusters' users; there is no Traditional catalog yet.
        return "zh_Hans"
    if tag.startswith("en"):
        return "en"
    return None


def from_accept_language(header: str | None) -> str:
    """The best supported locale for an `Accept-Language` header (English when none fits)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        locale = _from_tag(tag)
        if locale and quality > 0:
            ranked.append((-quality, position, locale))
    return min(ranked)[2] if ranked else DEFAULT_LOCALE


def negotiate(request: Request) -> str:
    """The request's locale: the language switch's cookie, else the browser's preference."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LOCALES:
        return chosen
    return from_accept_language(request.headers.get("accept-language"))


@dataclass(frozen=True)
class Formatter:
    """Numbers, money and dates in one locale (and the display time zone)."""

    locale: str

    @property
    def babel(self) -> Locale:
        return Locale.parse(self.locale)

    def number(self, value: float | int | None, digits: int = 0) -> str:
        if value is None:
            return "–"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return numbers.format_decimal(value, format=pattern, locale=self.babel)

    def percent(self, value: float | None, digits: int = 0) -> str:
        if value is None:
            return "–"
        pattern = "0" + ("." + "0" * digits if digits else "") + "%"
        return numbers.format_percent(value, format=pattern, locale=self.babel)

    def money(self, minor: int | None, currency: str = "CNY") -> str:
        """Integer minor units as money, e.g. 1234567 CNY -> ¥12,345.67 / ¥12,345.67."""
        if minor is None:
            return "–"
        digits = numbers.get_currency_precision(currency)
        amount = Decimal(minor).scaleb(-digits)
        return numbers.format_currency(amount, currency, locale=self.babel)

    def local(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(DISPLAY_TZ)

    def datetime(self, moment: dt.datetime | None) -> str:
        if moment is None:
            return "–"
        local = self.local(moment)
        day = dates.format_date(local, format="medium", locale=self.babel)
        return f"{day} {local:%H:%M}"

    def date(self, moment: dt.datetime | None) -> str:
        if moment is None:
            return "–"
        return dates.format_date(self.local(moment), format="medium", locale=self.babel)

    def day(self, moment: dt.datetime) -> str:
        """Month and day only (chart axes)."""
        return dates.format_skeleton("MMMd", self.local(moment), locale=self.babel)

    def short(self, moment: dt.datetime | None) -> str:
        """Day and time, compactly (for tables and charts)."""
        if moment is None:
            return "–"
        local = self.local(moment)
        day = dates.format_skeleton("MMMd", local, locale=self.babel)
        return f"{day} {local:%H:%M}"

    def duration(self, minutes: int) -> str:
        hours, mins = divmod(int(minutes), 60)
        return f"{hours} h {mins:02d} min" if hours else f"{mins} min"

    def input_value(self, moment: dt.datetime | None) -> str:
        """A value for `<input type="datetime-local">` in the display time zone."""
        return self.local(moment).strftime("%Y-%m-%dT%H:%M") if moment else ""


def jinja_gettext(catalog: gettext_module.NullTranslations) -> dict[str, Any]:
    """`gettext`, `ngettext` and `_` for one request's template context (newstyle: the
    variables are %-formatted and escaped inside the call)."""

    @pass_context
    def gettext(context: Context, message: str, **variables: Any) -> str:
        text = catalog.gettext(message)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables if variables else text

    @pass_context
    def ngettext(context: Context, singular: str, plural: str, n: int, **variables: Any) -> str:
        variables.setdefault("num", n)
        text = catalog.ngettext(singular, plural, n)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return {"gettext": gettext, "ngettext": ngettext, "_": gettext}
