"""The catalogue of report types: a schema-validated TOML file (Arabic and English), and the validation of a
report's field values against its type."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.errors import Invalid

Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
CLOCK_SKEW = timedelta(minutes=5)  # a date-time up to this far ahead of the station's clock is a clock difference
Label = Annotated[str, Field(min_length=1, max_length=120)]


class FieldKind(StrEnum):
    TEXT = "text"
    DATETIME = "datetime"
    PLACE = "place"
    AMOUNT = "amount"
    ITEMS = "items"
    YESNO = "yesno"


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Code
    kind: FieldKind
    label_ar: Label
    label_en: Label
    required: bool = False
    max_length: int = Field(2000, ge=1, le=20000, description="text and place: characters; items: entries")


class ReportType(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    name_ar: Label
    name_en: Label
    kiosk: bool = Field(description="may be filed at a kiosk; otherwise at a desk only")
    fields: list[FieldSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_fields(self) -> ReportType:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"type {self.code}: two fields share a name")
        return self


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    types: list[ReportType] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_codes(self) -> Catalogue:
        codes = [t.code for t in self.types]
        if len(set(codes)) != len(codes):
            raise ValueError("two report types share a code")
        return self

    def get(self, code: str) -> ReportType:
        for t in self.types:
            if t.code == code:
                return t
        raise Invalid(f"unknown report type {code!r}; known: {', '.join(t.code for t in self.types) or 'none'}")

    @property
    def codes(self) -> list[str]:
        return [t.code for t in self.types]


def parse_catalogue(text: str, source: str = "report types") -> Catalogue:
    try:
        return Catalogue.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise Invalid(f"{source}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise Invalid(f"{source}: {where}: {err['msg']}") from None


def load_catalogue(path: Path) -> Catalogue:
    return parse_catalogue(Path(path).read_text(encoding="utf-8"), str(path))


def sample_catalogue() -> Catalogue:
    text = resources.files(__package__).joinpath("sample_types.toml").read_text(encoding="utf-8")
    return parse_catalogue(text, "sample report types")


def _not_future(spec: FieldSpec, ts: datetime, now: datetime) -> None:
    """What happened cannot have happened later than now: refused, in both languages, beyond the clock skew (a
    kiosk's or an officer's PC a few minutes ahead of the station is not the visitor's mistake)."""
    if ts <= now + CLOCK_SKEW:
        return
    minutes = int(CLOCK_SKEW.total_seconds() // 60)
    raise Invalid(
        f"field {spec.name!r} ({spec.label_en}): the date and time is in the future; it may be at most "
        f"{minutes} minutes ahead of the station's clock",
        field=spec.name,
        problem="future",
        detail_ar=f"الحقل «{spec.label_ar}»: التاريخ والوقت في المستقبل؛ يُقبل تقدّمه على ساعة المركز "
        f"بما لا يزيد على {minutes} دقائق",
    )


def _value(spec: FieldSpec, value: Any, now: datetime | None = None) -> Any:
    """One field value in its canonical stored form, or Invalid naming the field (a date-time after `now`, beyond
    the clock skew, too)."""
    where = f"field {spec.name!r} ({spec.kind.value})"
    match spec.kind:
        case FieldKind.TEXT | FieldKind.PLACE:
            if not isinstance(value, str) or not value.strip():
                raise Invalid(f"{where}: expected non-empty text")
            if len(value) > spec.max_length:
                raise Invalid(f"{where}: at most {spec.max_length} characters")
            return value.strip()
        case FieldKind.DATETIME:
            try:
                ts = datetime.fromisoformat(str(value))
            except ValueError:
                raise Invalid(f"{where}: expected an ISO 8601 date-time") from None
            if ts.tzinfo is None:
                raise Invalid(f"{where}: the date-time needs a time zone offset")
            if now is not None:
                _not_future(spec, ts, now)
            return ts.isoformat()
        case FieldKind.AMOUNT:
            try:
                amount = Decimal(str(value))
            except InvalidOperation:
                raise Invalid(f"{where}: expected a number") from None
            if not amount.is_finite() or amount < 0 or amount > Decimal("1e12"):
                raise Invalid(f"{where}: expected an amount between 0 and 10^12")
            return str(amount.quantize(Decimal("0.01")))
        case FieldKind.ITEMS:
            if not isinstance(value, list) or not value:
                raise Invalid(f"{where}: expected a list of items")
            if len(value) > spec.max_length:
                raise Invalid(f"{where}: at most {spec.max_length} items")
            items = []
            for item in value:
                if not isinstance(item, str) or not item.strip() or len(item) > 500:
                    raise Invalid(f"{where}: each item is text of 1-500 characters")
                items.append(item.strip())
            return items
        case FieldKind.YESNO:
            if not isinstance(value, bool):
                raise Invalid(f"{where}: expected true or false")
            return value
    raise Invalid(f"{where}: unknown kind")  # pragma: no cover - the enum is closed


def validate_details(rtype: ReportType, values: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """The report's field values checked against its type: required present, unknown refused, each typed; with
    `now` (the station's clock) no date-time later than now plus CLOCK_SKEW."""
    known = {f.name for f in rtype.fields}
    unknown = sorted(set(values) - known)
    if unknown:
        raise Invalid(f"type {rtype.code} has no field {', '.join(unknown)}")
    clean: dict[str, Any] = {}
    for spec in rtype.fields:
        value = values.get(spec.name)
        if value is None or value == "" or value == []:
            if spec.required:
                raise Invalid(f"field {spec.name!r} is required for a {rtype.name_en.lower()} report")
            continue
        clean[spec.name] = _value(spec, value, now)
    return clean
