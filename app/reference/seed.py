"""Reference data from DOMAIN.md: the ten signatory communes, categories, action kinds.

Seeding adds what is missing and never overwrites what an admin has edited since.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.visibility import Visibility
from app.reference.models import ActionKind, Category, CategoryFamily, Commune

COMMUNES = [
    ("57463", "Metz", 49.1193, 6.1757),
    ("57049", "Le Ban-Saint-Martin", 49.1231, 6.1492),
    ("57412", "Longeville-lès-Metz", 49.1142, 6.1339),
    ("57447", "Marly", 49.0633, 6.1547),
    ("57480", "Montigny-lès-Metz", 49.1006, 6.1539),
    ("57487", "Moulins-lès-Metz", 49.1039, 6.1075),
    ("57545", "Plappeville", 49.1306, 6.1244),
    ("57616", "Saint-Julien-lès-Metz", 49.1328, 6.2039),
    ("57642", "Scy-Chazelles", 49.1136, 6.1131),
    ("57751", "Woippy", 49.1519, 6.1522),
]

F = CategoryFamily
CATEGORIES = [
    # code, family, label_fr, label_en
    ("rodeo", F.incivility, "Rodéos motorisés", "Motorised rodeos"),
    ("anarchic_parking", F.incivility, "Stationnement anarchique", "Anarchic parking"),
    (
        "nuisance_gathering",
        F.incivility,
        "Regroupements générant des nuisances",
        "Gatherings causing nuisance",
    ),
    (
        "public_space_occupation",
        F.incivility,
        "Occupation illicite de l'espace public",
        "Illicit occupation of public space",
    ),
    (
        "hall_occupation",
        F.incivility,
        "Occupation des halls d'immeuble",
        "Occupation of building halls",
    ),
    ("vagrancy", F.incivility, "Marginaux et errance", "People living rough or wandering"),
    ("night_noise", F.incivility, "Vie nocturne bruyante", "Noisy night life"),
    ("brawl", F.incivility, "Rixes", "Brawls"),
    (
        "drug_dealing",
        F.drugs,
        "Trafic de stupéfiants (point de deal)",
        "Drug trafficking (deal point)",
    ),
    ("neighbourhood_nuisance", F.residential, "Troubles de voisinage", "Neighbourhood nuisance"),
    ("wrecked_vehicle", F.residential, "Épaves de véhicules", "Wrecked vehicles"),
    ("street_car_repair", F.residential, "Mécanique sauvage", "Street car repairs"),
    (
        "uncontrolled_access",
        F.residential,
        "Accès non contrôlé aux cours et parkings fermés",
        "Uncontrolled access to closed courtyards and car parks",
    ),
    ("rubbish_dumping", F.residential, "Détritus et dépôts sauvages", "Rubbish and fly-tipping"),
    ("damage", F.residential, "Dégradations", "Damage"),
    (
        "transport_incivility",
        F.transport,
        "Incivilités et comportements agressifs dans les bus et le Mettis",
        "Incivilities and aggressive behaviour on buses and Mettis",
    ),
    (
        "transport_staff_violence",
        F.transport,
        "Violences contre les personnels ou les véhicules de transport",
        "Violence against transport staff or vehicles",
    ),
    (
        "station_trouble",
        F.transport,
        "Troubles dans et aux abords des gares",
        "Trouble in and around stations",
    ),
    ("urban_violence", F.violence, "Violences urbaines", "Urban violence"),
    ("firefighter_attack", F.violence, "Agressions de sapeurs-pompiers", "Attacks on firefighters"),
    ("road_insecurity", F.road, "Insécurité routière", "Road insecurity"),
    ("other", F.other, "Autre", "Other"),
]
SENSITIVE = {"drug_dealing": Visibility.restricted}

ACTION_KINDS = [
    ("foot_patrol", "Patrouille pédestre et îlotage", "Foot patrol and îlotage"),
    (
        "joint_operation",
        "Opération conjointe police nationale et police municipale",
        "Joint national and municipal police operation",
    ),
    (
        "deal_point_operation",
        "Opération de démantèlement de point de deal",
        "Deal-point dismantling operation",
    ),
    (
        "joint_transport_control",
        "Contrôle conjoint billettique et visibilité avec Le Met'",
        "Joint ticket and visibility control with Le Met'",
    ),
    ("in_vehicle_patrol", "Patrouille embarquée dans les véhicules", "Patrol inside vehicles"),
    (
        "security_study",
        "Étude de sûreté par un référent sûreté",
        "Security study by a référent sûreté",
    ),
    ("access_closure", "Fermeture d'accès", "Access closure"),
    ("lighting", "Éclairage", "Lighting"),
    ("video_protection", "Vidéoprotection", "Video protection"),
    ("wreck_removal", "Enlèvement d'épaves", "Wreck removal"),
    (
        "rubbish_collection",
        "Collecte des déchets et conteneurs enterrés",
        "Rubbish collection and buried bins",
    ),
    (
        "street_educators",
        "Éducateurs de rue et prévention spécialisée",
        "Street educators and specialised prevention",
    ),
    ("tenant_letter", "Courrier aux locataires", "Letter to tenants"),
    ("repairs", "Réparations", "Repairs"),
    ("local_staff", "Gardiens et personnels de proximité", "Caretakers and local staff"),
    (
        "video_extraction",
        "Extraction vidéo pour une enquête judiciaire",
        "Video extraction for a judicial inquiry",
    ),
    ("prosecutor_referral", "Signalement au parquet", "Referral to the prosecutor"),
    ("other", "Autre", "Other"),
]


async def seed_reference_data(session: AsyncSession) -> None:
    communes = set((await session.scalars(select(Commune.code))).all())
    session.add_all(
        Commune(code=code, name=name, lat=lat, lon=lon)
        for code, name, lat, lon in COMMUNES
        if code not in communes
    )
    categories = set((await session.scalars(select(Category.code))).all())
    session.add_all(
        Category(
            code=code,
            family=family,
            label_fr=label_fr,
            label_en=label_en,
            sensitive=code in SENSITIVE,
            default_visibility=SENSITIVE.get(code, Visibility.partners),
            reportable=True,
        )
        for code, family, label_fr, label_en in CATEGORIES
        if code not in categories
    )
    kinds = set((await session.scalars(select(ActionKind.code))).all())
    session.add_all(
        ActionKind(code=code, label_fr=label_fr, label_en=label_en)
        for code, label_fr, label_en in ACTION_KINDS
        if code not in kinds
    )
    await session.flush()
