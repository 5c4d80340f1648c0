from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from app.core.schemas import Boolean, Code, CommuneCode, Input, Name, Output, Patch
from app.core.visibility import Visibility
from app.reference.models import CategoryFamily, OrganisationKind


class CommuneOut(Output):
    code: str = Field(description="INSEE code.", examples=["57463"])
    name: str = Field(examples=["Metz"])
    lat: float = Field(description="Latitude of the commune centre.", examples=[49.1193])
    lon: float = Field(description="Longitude of the commune centre.", examples=[6.1757])


class OrganisationCreate(Input):
    name: Name = Field(examples=["Metz Habitat Territoire"])
    kind: OrganisationKind = Field(examples=["landlord"])
    commune_code: CommuneCode | None = Field(default=None, examples=["57463"])


class OrganisationUpdate(Patch):
    nullable = frozenset({"commune_code"})

    name: Name | None = Field(default=None, examples=["Metz Habitat Territoire"])
    kind: OrganisationKind | None = Field(
        default=None, description="What the organisation is.", examples=["landlord"]
    )
    commune_code: CommuneCode | None = Field(default=None, examples=["57751"])


class OrganisationOut(Output):
    id: uuid.UUID
    name: str = Field(examples=["Metz Habitat Territoire"])
    kind: OrganisationKind = Field(examples=["landlord"])
    commune_code: str | None = Field(examples=["57463"])
    created_at: datetime
    updated_at: datetime
    version: int = Field(examples=[1])


class CategoryCreate(Input):
    code: Code = Field(examples=["squat"])
    family: CategoryFamily = Field(examples=["residential"])
    label_fr: Name = Field(examples=["Squat de logement"])
    label_en: Name = Field(examples=["Squatted dwelling"])
    sensitive: Boolean = Field(default=False, examples=[False])
    default_visibility: Visibility = Field(default=Visibility.partners, examples=["partners"])
    reportable: Boolean = Field(default=True, examples=[True])


class CategoryUpdate(Patch):
    family: CategoryFamily | None = Field(default=None, examples=["residential"])
    label_fr: Name | None = Field(default=None, examples=["Squat de logement"])
    label_en: Name | None = Field(default=None, examples=["Squatted dwelling"])
    sensitive: Boolean | None = Field(default=None, examples=[True])
    default_visibility: Visibility | None = Field(default=None, examples=["police"])
    reportable: Boolean | None = Field(default=None, examples=[False])


class CategoryOut(Output):
    code: str = Field(examples=["drug_dealing"])
    family: CategoryFamily
    label_fr: str = Field(examples=["Trafic de stupéfiants (point de deal)"])
    label_en: str = Field(examples=["Drug trafficking (deal point)"])
    sensitive: bool = Field(description="Content forwarded to the CROSS; restricted by default.")
    default_visibility: Visibility
    reportable: bool = Field(description="Partners may submit reports in this category.")
    version: int = Field(examples=[1])


class ActionKindCreate(Input):
    code: Code = Field(examples=["mediation"])
    label_fr: Name = Field(examples=["Médiation"])
    label_en: Name = Field(examples=["Mediation"])


class ActionKindUpdate(Patch):
    label_fr: Name | None = Field(default=None, examples=["Médiation sociale"])
    label_en: Name | None = Field(default=None, examples=["Social mediation"])


class ActionKindOut(Output):
    code: str = Field(examples=["foot_patrol"])
    label_fr: str = Field(examples=["Patrouille pédestre et îlotage"])
    label_en: str = Field(examples=["Foot patrol and îlotage"])
    version: int = Field(examples=[1])
