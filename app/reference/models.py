from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, Timestamps, UUIDPrimaryKey, Versioned, str_enum
from app.core.visibility import Visibility


class OrganisationKind(StrEnum):
    """What an organisation is; police kinds decide who reads `police` and `restricted` texts."""

    national_police = "national_police"
    municipal_police = "municipal_police"
    landlord = "landlord"
    transport_operator = "transport_operator"
    municipality = "municipality"
    metropolis = "metropolis"
    prosecutor = "prosecutor"
    prefecture = "prefecture"
    other = "other"


class CategoryFamily(StrEnum):
    """The family a category belongs to; `transport` reports go to the transport GPO."""

    incivility = "incivility"
    drugs = "drugs"
    residential = "residential"
    transport = "transport"
    violence = "violence"
    road = "road"
    other = "other"


class Commune(Base):
    __tablename__ = "communes"

    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    lat: Mapped[float]
    lon: Mapped[float]


class Organisation(UUIDPrimaryKey, Timestamps, Versioned, Base):
    __tablename__ = "organisations"
    __table_args__ = (
        Index("ix_organisations_name_id", "name", "id"),
        Index("ix_organisations_kind", "kind"),
        Index("ix_organisations_commune_code", "commune_code"),
    )

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OrganisationKind] = mapped_column(str_enum(OrganisationKind, "organisation_kind"))
    commune_code: Mapped[str | None] = mapped_column(ForeignKey("communes.code"))


class Category(Versioned, Base):
    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    family: Mapped[CategoryFamily] = mapped_column(str_enum(CategoryFamily, "category_family"))
    label_fr: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))
    sensitive: Mapped[bool] = mapped_column(default=False)
    default_visibility: Mapped[Visibility] = mapped_column(
        str_enum(Visibility, "category_default_visibility"), default=Visibility.partners
    )
    reportable: Mapped[bool] = mapped_column(default=True)


class ActionKind(Versioned, Base):
    __tablename__ = "action_kinds"

    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    label_fr: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))
